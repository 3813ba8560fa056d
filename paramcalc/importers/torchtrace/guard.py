"""The imported spec against the model it came from: parameter and buffer totals, MACs and the output
shapes must be the model's (MACs as torch's FlopCounterMode counts them on the same input), or the
import is refused (exit 2) naming each difference; a wrong spec is never written."""

from __future__ import annotations

import warnings

from ...errors import SpecError


def measure(model, inputs) -> tuple[list[list[int]], int]:
    """(the per-sample shapes of the tensors the model returns, in order: tuples, lists, dicts and
    transformers' ModelOutput flattened; its MACs, half FlopCounterMode's flops). Attention runs its
    math kernel and LSTMs their plain one, as paramcalc counts them (fused kernels hide work from the
    counter)."""
    import torch
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with warnings.catch_warnings():  # torch's own notes (TF32) are no message for the user
            warnings.simplefilter("ignore")
            with torch.no_grad(), counter, sdpa_kernel(SDPBackend.MATH), torch.backends.mkldnn.flags(enabled=False):
                out = model(*inputs)
    except Exception as e:
        raise SpecError(f"the model's forward failed: {type(e).__name__}: {str(e)[:300]}") from None
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    shapes: list[list[int]] = []
    _flatten(out, shapes, torch)
    return shapes, counter.get_total_flops() // 2


def _flatten(out, shapes: list, torch) -> None:
    if isinstance(out, torch.Tensor):
        shapes.append(list(out.shape[1:]))
    elif isinstance(out, dict):
        for value in out.values():
            _flatten(value, shapes, torch)
    elif isinstance(out, (tuple, list)):
        for value in out:
            _flatten(value, shapes, torch)


def differences(doc: dict, model, expected: list[list[int]], macs: int | None = None) -> list[str]:
    """What the spec says and the model has, where they differ."""
    import yaml

    from ...api import analyze
    from ...spec import parse_spec

    try:
        report = analyze(parse_spec(yaml.safe_dump(doc, sort_keys=False), doc.get("name", "model")))
    except Exception as e:  # SpecError, or a case the analysis does not foresee: either way no spec
        return [f"the spec written does not analyse ({type(e).__name__}: {str(e).splitlines()[0][:300]})"]
    found = []
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for b in model.buffers())
    if report.totals.params != params:
        found.append(f"params {report.totals.params:,} in the spec, {params:,} in the model")
    if report.totals.buffers != buffers:
        found.append(f"buffers {report.totals.buffers:,} in the spec, {buffers:,} in the model")
    if macs is not None and report.totals.macs != macs:
        found.append(f"MACs {report.totals.macs:,} in the spec, {macs:,} by torch's FlopCounterMode")
    names = doc.get("outputs") or [next(iter(doc["layers"][-1].values()))["name"]]
    written = [report.outputs.get(n, report.output_shape) for n in names]
    if len(written) > 1 and len(written) != len(expected):
        found.append(f"{len(written)} outputs in the spec, {len(expected)} from the model")
    for name, spec_shape, model_shape in zip(names, written, expected):
        if spec_shape != model_shape:
            found.append(f"output '{name}' is {spec_shape} in the spec, {model_shape} from the model")
    return found


_TRACED = {"fx": "traced with torch.fx", "export": "traced with torch.export", "hooks": "recorded with module hooks"}


def check(doc: dict, model, measured: tuple[list[list[int]], int], how: str) -> None:
    """Refuses the spec where it differs from the model; `how` is "fx", "export (why not fx)" or
    "hooks (why neither)"."""
    found = differences(doc, model, *measured)
    if found:
        tracer, _, why = how.partition(" ")
        said = _TRACED[tracer] + (f", as {why[1:-1]}" if why else "")
        raise SpecError(f"cannot import: the spec would be wrong ({said}): {'; '.join(found)}")
