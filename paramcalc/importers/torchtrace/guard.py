"""The imported spec against the model it came from: parameter and buffer totals and the output shapes
must be the model's, or the import is refused (exit 2) naming each difference; a wrong spec is never
written."""

from __future__ import annotations

from ...errors import SpecError


def model_outputs(model, inputs) -> list[list[int]]:
    """The per-sample shapes of the tensors the model returns, in order (tuples, lists, dicts and
    transformers' ModelOutput flattened)."""
    import torch

    try:
        with torch.no_grad():
            out = model(*inputs)
    except Exception as e:
        raise SpecError(f"the model's forward failed: {type(e).__name__}: {str(e)[:300]}") from None
    shapes: list[list[int]] = []
    _flatten(out, shapes, torch)
    return shapes


def _flatten(out, shapes: list, torch) -> None:
    if isinstance(out, torch.Tensor):
        shapes.append(list(out.shape[1:]))
    elif isinstance(out, dict):
        for value in out.values():
            _flatten(value, shapes, torch)
    elif isinstance(out, (tuple, list)):
        for value in out:
            _flatten(value, shapes, torch)


def differences(doc: dict, model, expected: list[list[int]]) -> list[str]:
    """What the spec says and the model has, where they differ."""
    import yaml

    from ...analyze import analyze
    from ...spec import parse_spec

    try:
        report = analyze(parse_spec(yaml.safe_dump(doc, sort_keys=False), doc.get("name", "model")))
    except SpecError as e:
        return [f"the spec written does not analyse ({str(e).splitlines()[0][:300]})"]
    found = []
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for b in model.buffers())
    if report.totals.params != params:
        found.append(f"params {report.totals.params:,} in the spec, {params:,} in the model")
    if report.totals.buffers != buffers:
        found.append(f"buffers {report.totals.buffers:,} in the spec, {buffers:,} in the model")
    names = doc.get("outputs") or [next(iter(doc["layers"][-1].values()))["name"]]
    written = [report.outputs.get(n, report.output_shape) for n in names]
    if len(written) > 1 and len(written) != len(expected):
        found.append(f"{len(written)} outputs in the spec, {len(expected)} from the model")
    for name, spec_shape, model_shape in zip(names, written, expected):
        if spec_shape != model_shape:
            found.append(f"output '{name}' is {spec_shape} in the spec, {model_shape} from the model")
    return found


def check(doc: dict, model, expected: list[list[int]], how: str) -> None:
    """Refuses the spec where it differs from the model; `how` is "fx" or "hooks (why not fx)"."""
    found = differences(doc, model, expected)
    if found:
        traced = "traced with torch.fx" if how == "fx" else f"recorded with module hooks, as {how[7:-1]}"
        raise SpecError(f"cannot import: the spec would be wrong ({traced}): {'; '.join(found)}")
