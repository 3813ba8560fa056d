"""Receptive fields against PyTorch's gradient: tests/fixtures/receptive_field.json, written by
tests/generate_rf_fixture.py (see its docstring for the method), for every CNN in specs/ and for
single layers of every geometry."""

import json
from pathlib import Path

import pytest
import yaml

from paramcalc import analyze, parse_spec

ROOT = Path(__file__).parent.parent
FIXTURE = json.loads((ROOT / "tests" / "fixtures" / "receptive_field.json").read_text())
REPORTS = {model: analyze(str(ROOT / "specs" / f"{model}.yaml")) for model in FIXTURE["models"]}


def row_for(report, name):
    """The spec's layer or block named like torch's module; for torch's `features.3` in a spec whose
    `features` group names its layers by kind, the group's 4th layer (the same Sequential order)."""
    rows = {r.name: r for r in report.layers}
    blocks = {b.name: b for b in report.blocks}
    if name in rows:
        return rows[name]
    if name in blocks:
        return report.layers[blocks[name].last]  # a block's output is its last layer's
    parent, _, index = name.rpartition(".")
    if parent in blocks and index.isdigit() and blocks[parent].first + int(index) <= blocks[parent].last:
        return report.layers[blocks[parent].first + int(index)]
    return None


MODULES = [
    (model, name, m)
    for model, modules in FIXTURE["models"].items()
    for name, m in modules.items()
    if row_for(REPORTS[model], name) is not None
]


def assert_matches(rf, measured):
    """Every probed output position's measured span (first and last input position with a nonzero
    gradient, on an input large enough for the edges to show) must follow from size, stride, start."""
    assert rf is not None
    if measured["global"]:
        assert rf["global"], rf
        return
    assert not rf["global"], rf
    for d, spans in enumerate(measured["dims"]):
        n = measured["input"][1 + d]
        size, stride, start = rf["size"][d], rf["stride"][d], rf["start"][d]
        spans = [(o, lo, hi) for o, lo, hi in spans if lo is not None]
        firsts = [(o, lo) for o, lo, hi in spans if lo > 0]
        lasts = [(o, hi) for o, lo, hi in spans if hi < n - 1]
        whole = [hi - lo + 1 for o, lo, hi in spans if lo > 0 and hi < n - 1]
        assert firsts and lasts, "the oracle saw neither edge unclipped"
        if whole:
            assert size == max(whole), (d, rf, spans)
        evenly = (
            isinstance(stride, int)
            and len({lo - o * stride for o, lo in firsts}) == 1
            and len({hi - o * stride for o, hi in lasts}) == 1
        )
        if evenly:  # the field moves by `stride` per position: both edges are predicted exactly
            o, lo = firsts[0]
            assert start == lo - o * stride, (d, rf, spans)
            o, hi = lasts[0]
            assert start + size - 1 == hi - o * stride, (d, rf, spans)
        else:
            assert whole, "a field that does not move evenly must be seen whole"


@pytest.mark.parametrize("model, name, measured", MODULES, ids=[f"{m}:{n}" for m, n, _ in MODULES])
def test_zoo_fields_equal_pytorch(model, name, measured):
    assert_matches(row_for(REPORTS[model], name).receptive_field, measured)


def test_every_cnn_spec_is_measured_to_its_last_field():
    """Each spec with a spatial input is in the fixture with its final field: a global one, or
    the layer that made its last local field (torchvision pools some networks functionally, so no
    module outputs the global field that follows; a ReLU after the layer keeps its field)."""
    for path in sorted((ROOT / "specs").glob("*.yaml")):
        report = analyze(str(path))
        if report.layers[0].receptive_field is None:
            continue
        assert path.stem in FIXTURE["models"], path.stem
        matched = [(row_for(report, name), m) for model, name, m in MODULES if model == path.stem]
        if report.layers[
            -1 - [r.receptive_field is not None for r in reversed(report.layers)].index(True)
        ].receptive_field["global"] and any(m["global"] for _, m in matched):
            continue
        local = [r for r in report.layers if r.receptive_field is not None and not r.receptive_field["global"]]
        final = local[-1].receptive_field
        first = len(local) - 1
        while first > 0 and local[first - 1].receptive_field == final:
            first -= 1
        maker = local[first]
        assert any(maker.index <= r.index <= local[-1].index for r, _ in matched), (path.stem, maker.name)


@pytest.mark.parametrize("case", FIXTURE["cases"], ids=[c["name"] for c in FIXTURE["cases"]])
def test_layer_fields_equal_pytorch(case):
    spec = yaml.safe_dump({"input": case["input"], "layers": case["layers"]}, sort_keys=False)
    report = analyze(parse_spec(spec, "<case>"))
    assert_matches(report.layers[-1].receptive_field, case["field"])


# The reference values, each also measured by the oracle on torchvision's model.
KNOWN = [
    ("alexnet", "features", 195),
    ("vgg16", "features", 212),
    ("resnet18", "layer4", 435),
    ("resnet50", "layer4", 427),
    ("mobilenet_v2", "features", 491),
]


@pytest.mark.parametrize("model, name, size", KNOWN, ids=[f"{m}:{n}" for m, n, _ in KNOWN])
def test_known_sizes(model, name, size):
    measured = FIXTURE["models"][model][name]
    n = measured["input"][1]
    firsts = [lo - o * 32 for o, lo, hi in measured["dims"][0] if lo > 0]
    lasts = [hi - o * 32 for o, lo, hi in measured["dims"][0] if hi < n - 1]
    assert lasts[0] - firsts[0] + 1 == size  # all five have stride 32
    assert row_for(REPORTS[model], name).receptive_field["size"] == [size, size]


def test_patterns_too_long_to_follow_go_untracked():
    """A transposed stride or resampling ratio with a pattern longer than 4096 positions is not
    followed (null), rather than tabulated position by position."""
    for layer in ("convtranspose1d: {out: 1, kernel: 2, stride: 1000000000}", "upsample: {size: 1000000007}"):
        report = analyze(parse_spec(f"input: [1, 3]\nlayers:\n  - {layer}\n", "<long>"))
        assert report.layers[0].receptive_field is None


def test_channels_last_keeps_the_field():
    """A permute moves the spatial dims, and layers on the channels at each position (LayerNorm,
    linear) keep the field, as ConvNeXt's blocks do: the field equals that of the same network
    without the channels-last detour. A convolution whose channels dim is spatial follows nothing."""

    def fields(middle):
        spec = (
            "input: [3, 32, 32]\nlayers:\n  - conv2d: {out: 8, kernel: 3, stride: 2}\n"
            + middle
            + "  - conv2d: {out: 8, kernel: 5, padding: 2}\n  - layernorm2d: {}\n"
        )
        return [r.receptive_field for r in analyze(parse_spec(spec, "<rf>")).layers]

    plain = fields("")
    detour = fields(
        "  - permute: [0, 2, 3, 1]\n  - layernorm: {}\n  - linear: {out: 8}\n"
        "  - transpose: {dim0: 1, dim1: 3}\n  - transpose: {dim0: 2, dim1: 3}\n"
    )
    assert detour[-2:] == plain[-2:] and plain[-1]["size"] == [11, 11]
    assert all(rf == plain[0] for rf in detour[1:-2])
    spec = "input: [3, 32, 32]\nlayers:\n  - permute: [0, 2, 3, 1]\n  - conv2d: {out: 4, kernel: 3}\n"
    assert analyze(parse_spec(spec, "<rf>")).layers[-1].receptive_field is None


def test_the_window_shortcut_is_the_general_code(monkeypatch):
    """receptive._window answers the most common case without `through`'s general tests: with it
    off, every field of every spec and case is the same."""
    from paramcalc import receptive

    specs = [str(path) for path in sorted((ROOT / "specs").glob("*.yaml"))] + [
        parse_spec(yaml.safe_dump({"input": c["input"], "layers": c["layers"]}), c["name"]) for c in FIXTURE["cases"]
    ]

    def fields():
        return [[row.receptive_field for row in analyze(spec).layers] for spec in specs]

    shortcut = fields()
    monkeypatch.setattr(receptive, "_window", lambda *args: None)
    assert fields() == shortcut
