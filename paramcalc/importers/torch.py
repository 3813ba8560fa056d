"""A PyTorch model -> a paramcalc spec (YAML text). Needs torch, imported only when called.

The model is traced with torch.fx: every leaf module call, parameter read and tensor operation becomes
a layer named by its module path (`layer1.0.conv1`), with `from:` where the flow branches. A module
called twice shares its weight with its first call (`tie:`). Tensors that no traced call reads (an
auxiliary classifier eval mode never calls) are declared by name, so the totals stay the model's. When
fx cannot trace the model (data-dependent control flow), forward hooks on the leaf modules record the
calls instead: the tensor operations between modules are then not seen. Either way the spec written is
checked against the model (parameter and buffer totals, output shapes) and refused where it differs.
The steps live in paramcalc/importers/torchtrace/.
"""

from __future__ import annotations

from typing import Any

from ..errors import Loc, SpecError
from ..spec import parse_shape

INSTALL_HINT = "this command needs PyTorch: pip install 'paramcalc[torch]'"


def need_torch():
    try:
        import torch
    except ImportError:
        raise SpecError(INSTALL_HINT) from None
    return torch


def example_inputs(shapes, tokens: int | None):
    torch = need_torch()
    if tokens:
        return [torch.randint(0, tokens, (1, *s)) for s in shapes]
    return [torch.randn(1, *s) for s in shapes]


def parse_shapes(text: str) -> list[tuple[int, ...]]:
    """`3x224x224`, or several inputs separated by `;`."""
    return [parse_shape(part.strip(), Loc("-i/--input", 0, 0)) for part in text.split(";")]


# ---------------------------------------------------------------- entry point


def spec_from_model(model, shapes, tokens: int | None = None, name: str = "model") -> tuple[dict, str]:
    """(spec document, how it was traced: "fx", "export (why not fx)" or "hooks (why neither)"), checked
    against the model."""
    from .torchtrace import Unsupported
    from .torchtrace.export import trace_export
    from .torchtrace.fx import trace_fx
    from .torchtrace.guard import check, measure
    from .torchtrace.hooks import trace_hooks

    inputs = example_inputs(shapes, tokens)
    config: Any = getattr(model, "config", None)
    if getattr(config, "use_cache", False):  # transformers: the KV cache it returns is state, not an output
        config.use_cache = False
    measured = measure(model, inputs)
    try:
        spec_inputs, entries, outputs = trace_fx(model, inputs)
        how = "fx"
    except Unsupported as e:
        reason = str(e)
        try:
            spec_inputs, entries, outputs = trace_export(model, inputs)
            how = f"export ({reason})"
        except Unsupported as again:
            reason = f"{reason}; {again}"
            spec_inputs, entries, outputs = trace_hooks(model, inputs, reason)
            how = f"hooks ({reason})"
    doc = _document(name, spec_inputs, entries, outputs)
    check(doc, model, measured, how)
    return doc, how


def _document(name: str, spec_inputs: dict, entries: list, outputs: list) -> dict:
    doc: dict = {"name": name}
    if len(spec_inputs) == 1:
        doc["input"] = next(iter(spec_inputs.values()))
        renamed = next(iter(spec_inputs))
        for entry in entries:
            fields = next(iter(entry.values()))
            if fields.get("from") == renamed:
                fields["from"] = "input"
            elif isinstance(fields.get("from"), list):
                fields["from"] = ["input" if f == renamed else f for f in fields["from"]]
        outputs = ["input" if o == renamed else o for o in outputs]
    else:
        doc["inputs"] = spec_inputs
    if len(outputs) > 1 or outputs[0] != next(iter(entries[-1].values()))["name"]:
        doc["outputs"] = outputs
    doc["layers"] = entries
    return doc


def _unread(entries) -> int:
    """Declared tensors (parameter, buffer) that no layer reads `from:`."""
    read = set()
    for entry in entries:
        for fields in entry.values():
            source = fields.get("from")
            read.update(source if isinstance(source, list) else [source])
    return sum(
        1
        for entry in entries
        for kind, fields in entry.items()
        if kind in ("parameter", "buffer") and fields["name"] not in read
    )


def import_torch(target: str, input_shape: str, tokens: int | None = None) -> str:
    import yaml

    from ..factory import load_factory

    need_torch()
    shapes = parse_shapes(input_shape)
    model = load_factory(target)
    name = target.rpartition(":")[2]
    doc, how = spec_from_model(model, shapes, tokens, name)
    tracer = {"fx": "torch.fx", "export": "torch.export", "hooks": "module hooks"}[how.partition(" ")[0]]
    header = f"# Imported by paramcalc from {target!r} (traced with {tracer}).\n# Names are the model's module paths.\n"
    if how.startswith("export"):
        header += "# torch.fx could not trace it; torch.export did, to ATen operations, each written as its layer.\n"
    if how.startswith("hooks"):
        header += (
            "# torch.fx and torch.export could not trace it, so forward hooks recorded the module calls: operations\n"
            "# between modules are not in this spec (its params, buffers, MACs and output shape are the model's).\n"
        )
    unread = _unread(doc["layers"])
    if unread:
        header += (
            f"# {unread} {'tensors' if unread > 1 else 'tensor'} that the traced forward never reads into a layer\n"
            "# (of modules eval mode never calls, or state only constants such as rotary tables come from)\n"
            "# declared by name as parameters and buffers, so the totals are the model's.\n"
        )
    return header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, default_flow_style=None, width=110)
