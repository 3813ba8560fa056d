"""Spec vs model: does the code build what the spec says? Needs torch, imported only when called.

Compared: total params and buffers, the output shape on the spec's inputs, and every spec layer or
block whose name is a module of the model (its params and buffers, the module's subtree). Modules
that own tensors and that no spec name covers, and spec layers with tensors that name no module, are
differences too: nothing is skipped silently.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Difference:
    name: str  # a module path, or "(total)" / "(output)"
    what: str  # params, buffers, output_shape, missing, extra, forward
    spec: object
    model: object


@dataclass
class Verification:
    spec: str
    target: str
    compared: int = 0
    differences: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences

    def as_dict(self) -> dict:
        return {
            "spec": self.spec,
            "model": self.target,
            "ok": self.ok,
            "compared": self.compared,
            "differences": [asdict(d) for d in self.differences],
        }


def _count(tensors) -> int:
    return sum(t.numel() for t in tensors)


def compare(analysis, model, target: str = "model") -> Verification:
    """An Analysis (of a spec) vs an nn.Module."""
    import torch

    report = analysis.report

    result = Verification(report.source, target)
    diff = result.differences.append
    modules = dict(model.named_modules())
    parameters = dict(model.named_parameters(remove_duplicate=False))
    model_buffers = dict(model.named_buffers(remove_duplicate=False))
    total_params = _count(model.parameters())
    total_buffers = _count(model.buffers())
    if report.totals.params != total_params:
        diff(Difference("(total)", "params", report.totals.params, total_params))
    if report.totals.buffers != total_buffers:
        diff(Difference("(total)", "buffers", report.totals.buffers, total_buffers))
    covered: set[str] = set()
    rows = {row.name: row for row in [*report.blocks, *report.layers]}
    for name, row in rows.items():
        if name in modules:
            module = modules[name]
            covered.add(name)
            result.compared += 1
            params = _count(module.parameters())
            buffers = _count(module.buffers())
            if row.params != params:
                diff(Difference(name, "params", row.params, params))
            if row.buffers != buffers:
                diff(Difference(name, "buffers", row.buffers, buffers))
        elif name in parameters:  # a spec `parameter` is a tensor of the model
            covered.add(name)
            result.compared += 1
            if row.params != parameters[name].numel():
                diff(Difference(name, "params", row.params, parameters[name].numel()))
        elif name in model_buffers:  # and a spec `buffer`, one of its buffers
            covered.add(name)
            result.compared += 1
            if row.buffers != model_buffers[name].numel():
                diff(Difference(name, "buffers", row.buffers, model_buffers[name].numel()))
    for row in report.layers:
        if (row.params or row.buffers) and not _covered(row.name, covered):
            diff(Difference(row.name, "missing", f"{row.params:,} params, {row.buffers:,} buffers", "no such module"))
    for name, module in modules.items():
        own = [*module.named_parameters(recurse=False), *module.named_buffers(recurse=False)]
        uncovered = [(n, t) for n, t in own if not _covered(f"{name}.{n}" if name else n, covered)]
        if uncovered:
            diff(
                Difference(
                    name or "(root)",
                    "extra",
                    "no such layer",
                    f"{_count(t for _, t in uncovered):,} in {', '.join(n for n, _ in uncovered)}",
                )
            )
    _check_output(report, analysis.token_inputs(), model, diff, torch)
    return result


def _covered(name: str, covered: set[str]) -> bool:
    """A name is covered by itself or by any enclosing spec name."""
    parts = name.split(".") if name else []
    return any(".".join(parts[:i]) in covered for i in range(1, len(parts) + 1))


def _check_output(report, tokens: dict[str, int], model, diff, torch):
    """Runs the model on inputs of the spec's shapes; token ids (below `tokens[name]`) where the spec
    embeds an input."""
    inputs = []
    for name, shape in report.inputs.items():
        if name in tokens:
            inputs.append(torch.randint(0, max(1, tokens[name]), (1, *shape)))
        else:
            inputs.append(torch.randn(1, *shape))
    try:
        with torch.no_grad():
            out = model(*inputs)
    except Exception as e:
        diff(
            Difference(
                "(output)",
                "forward",
                "inputs " + ", ".join(f"{k} {v}" for k, v in report.inputs.items()),
                f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}",
            )
        )
        return
    while isinstance(out, (tuple, list)) and out:
        out = out[0]
    if hasattr(out, "logits"):  # Hugging Face style outputs
        out = out.logits
    shape = list(out.shape[1:]) if hasattr(out, "shape") else None
    if shape != report.output_shape:
        diff(Difference("(output)", "output_shape", report.output_shape, shape))


def verify_spec(spec_path: str, target: str) -> Verification:
    from .analysis import Analysis
    from .importers.torch import load_factory, need_torch
    from .spec import load_spec

    need_torch()
    analysis = Analysis.of(load_spec(spec_path))
    model = load_factory(target)
    return compare(analysis, model, target)
