"""Spec vs model: does the code build what the spec says? Needs torch, imported only when called.

Compared: total params and buffers, the output shape on the spec's inputs, and every spec layer or
block whose name is a module of the model (its params and buffers, the module's subtree). Modules
that own tensors and that no spec name covers, and spec layers with tensors that name no module, are
differences too: nothing is skipped silently. With outputs=True also what both compute: the spec's
exported code, built, takes the model's state_dict (strict) and runs on the same input as the model.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from .errors import SpecError


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
    output_difference: float | None = None  # the largest |spec − model| of the outputs (with outputs=True)

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
            "output_difference": self.output_difference,
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


# Inputs up to this many elements (256 MiB of float32) are real tensors, as fast as the model runs;
# larger ones (a spec may state any input) are meta tensors: shapes without memory. Meta is not the
# default because its first use costs seconds of torch's start-up.
MAX_REAL_INPUT = 2**26


def _inputs(report, tokens: dict[str, int], device: str, torch, generator=None) -> list:
    """One batch of the spec's inputs: token ids where the spec embeds an input, else standard normal."""
    return [
        torch.randint(0, max(1, tokens[name]), (1, *shape), device=device, generator=generator)
        if name in tokens
        else torch.randn(1, *shape, device=device, generator=generator)
        for name, shape in report.inputs.items()
    ]


def _check_output(report, tokens: dict[str, int], model, diff, torch):
    """Runs the model on inputs of the spec's shapes (token ids where the spec embeds an input),
    on the meta device where they are large: only the output's shape is compared."""
    elements = sum(math.prod(shape) for shape in report.inputs.values())
    device = "meta" if elements > MAX_REAL_INPUT else "cpu"
    inputs = _inputs(report, tokens, device, torch)
    try:
        with torch.no_grad():
            out = _forward(model, inputs, device, torch)
    except Exception as e:
        _allocation_failure(e, elements, torch)
        if device == "meta":
            raise SpecError(
                f"the spec's input ({elements:,} elements) is too large to run for real (the limit is "
                f"{MAX_REAL_INPUT:,}), and the model cannot run on the meta device ({type(e).__name__}: "
                f"{_first_line(e)}); parameters were compared, the output shape was not",
                hint="state a smaller input in the spec to check the output shape",
            ) from None
        diff(
            Difference(
                "(output)",
                "forward",
                "inputs " + ", ".join(f"{k} {v}" for k, v in report.inputs.items()),
                f"{type(e).__name__}: {_first_line(e)}",
            )
        )
        return
    out = _main_output(out)
    shape = list(out.shape[1:]) if hasattr(out, "shape") else None
    if shape != report.output_shape:
        diff(Difference("(output)", "output_shape", report.output_shape, shape))


def _main_output(out):
    while isinstance(out, (tuple, list)) and out:
        out = out[0]
    if hasattr(out, "logits"):  # Hugging Face style outputs
        out = out.logits
    return out


# outputs agree when they differ by at most this (float32 on the CPU; the same operations in another order)
TOLERANCE = 1e-4


def compare_outputs(spec, analysis, model, result: Verification) -> None:
    """The spec's exported module, given the model's state_dict (strict), against the model on one seeded
    batch of the spec's inputs (both in eval mode): the largest difference of the main outputs."""
    import torch

    from .export import export_pytorch

    report = analysis.report
    elements = sum(math.prod(shape) for shape in report.inputs.values())
    if elements > MAX_REAL_INPUT:
        raise SpecError(
            f"the spec's input ({elements:,} elements) is too large to compare outputs (the limit is "
            f"{MAX_REAL_INPUT:,})",
            hint="state a smaller input in the spec to compare outputs",
        )
    namespace: dict = {}
    exec(compile(export_pytorch(spec), "<exported spec>", "exec"), namespace)  # export escapes every value
    exported = namespace["build_model"]()
    try:
        exported.load_state_dict(model.state_dict(), strict=True)
    except RuntimeError as e:
        result.differences.append(Difference("(state_dict)", "load", "the spec's tensors", _first_line(e)))
        return
    inputs = _inputs(report, analysis.token_inputs(), "cpu", torch, torch.Generator().manual_seed(0))
    model.eval(), exported.eval()
    try:
        with torch.no_grad():
            ours, theirs = _main_output(exported(*inputs)), _main_output(model(*inputs))
    except Exception as e:
        _allocation_failure(e, elements, torch)
        result.differences.append(Difference("(output)", "forward", "the same inputs", f"{type(e).__name__}"))
        return
    if not (hasattr(ours, "shape") and hasattr(theirs, "shape")) or ours.shape != theirs.shape:
        return  # the output shapes differ: compare() has said so
    result.output_difference = (ours.double() - theirs.double()).abs().max().item() if ours.numel() else 0.0
    if not result.output_difference <= TOLERANCE:  # NaN too
        result.differences.append(
            Difference("(output)", "values", f"max |spec − model| {result.output_difference:.3g}", f"≤ {TOLERANCE}")
        )


def _forward(model, inputs, device, torch):
    """The model's output; on the meta device, its weights are meta tensors for the call (the model
    itself is left as it is)."""
    if device != "meta":
        return model(*inputs)
    from torch.func import functional_call

    tensors = [*model.named_parameters(remove_duplicate=False), *model.named_buffers(remove_duplicate=False)]
    return functional_call(model, {n: torch.empty_like(t, device="meta") for n, t in tensors}, tuple(inputs))


def _allocation_failure(error: Exception, elements: int, torch) -> None:
    """Running out of memory is not a difference between spec and model: exit 2."""
    text = str(error)
    if isinstance(error, (MemoryError, getattr(torch, "OutOfMemoryError", MemoryError))) or any(
        words in text for words in ("can't allocate memory", "not enough memory", "out of memory")
    ):
        raise SpecError(
            f"running the model on the spec's input ({elements:,} elements) ran out of memory: "
            f"{type(error).__name__}: {_first_line(error)}"
        ) from None


def _first_line(error: Exception) -> str:
    text = str(error)
    return text.splitlines()[0][:200] if text else ""


def verify_spec(spec_path: str, target: str, outputs: bool = False) -> Verification:
    from .analysis import Analysis
    from .factory import load_factory
    from .importers.torch import need_torch
    from .spec import load_spec

    need_torch()
    spec = load_spec(spec_path)
    analysis = Analysis.of(spec)
    model = load_factory(target)
    result = compare(analysis, model, target)
    if outputs:
        compare_outputs(spec, analysis, model, result)
    return result
