"""Properties that hold for every network: totals are the sum of rows, shapes chain, params split
into weights and bias. Checked on hypothesis-built networks and on every zoo spec."""

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings, strategies as st

from paramcalc import analyze, parse_spec

SPECS = sorted((Path(__file__).parent.parent / "specs").glob("*.yaml"))

conv_layer = st.builds(
    lambda out, k, groups_one, bias: {"conv2d": {"out": out, "kernel": k, "padding": "same", "bias": bias}},
    st.integers(1, 64),
    st.sampled_from([1, 3, 5]),
    st.just(True),
    st.booleans(),
)
plain_layer = st.sampled_from(
    ["relu", "batchnorm2d", "gelu", {"dropout2d": 0.1}, "identity", {"maxpool2d": {"kernel": 2, "ceil_mode": True}}]
)
head = st.lists(st.integers(1, 100), min_size=1, max_size=3).map(
    lambda outs: ["flatten"] + [{"linear": o} for o in outs]
)


@st.composite
def networks(draw):
    layers = draw(st.lists(st.one_of(conv_layer, plain_layer), min_size=1, max_size=12)) + draw(head)
    shape = [draw(st.integers(1, 8)), draw(st.integers(1, 40)), draw(st.integers(1, 40))]
    return {"input": shape, "batch": draw(st.integers(1, 4)), "layers": layers}


def check_invariants(report):
    rows = report.layers
    for key in ("bias", "buffers", "macs", "trainable", "param_bytes"):
        assert getattr(report.totals, key) == sum(getattr(r, key) for r in rows), key
    # a tied weight is counted once: by the layer that defines it, not the one that shares it
    assert report.totals.params == sum(r.params - r.shared for r in rows)
    assert report.totals.weights == sum(r.weights - r.shared for r in rows)
    assert report.totals.params == report.totals.trainable + report.totals.non_trainable
    for row in rows:
        assert row.params == row.weights + row.bias
        assert all(n >= 0 for n in (row.weights, row.bias, row.buffers, row.macs))
    outputs = {name: shape for name, shape in report.inputs.items()}
    for row in rows:
        assert row.input_shapes == [outputs[name] for name in row.inputs]
        outputs[row.name] = row.output_shape
    for block in report.blocks:
        inside = rows[block.first : block.last + 1]
        assert block.params == sum(r.params for r in inside) and block.macs == sum(r.macs for r in inside)


@settings(max_examples=200, deadline=None)
@given(networks())
def test_random_chains(doc):
    report = analyze(parse_spec(yaml.safe_dump(doc), "<hypothesis>"))
    check_invariants(report)
    assert report.layers[0].input_shapes == [doc["input"]]
    for before, after in zip(report.layers, report.layers[1:]):
        assert after.input_shapes == [before.output_shape]


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_zoo_invariants(path):
    check_invariants(analyze(str(path)))


def test_rows_carry_the_count_fields_in_order():
    import dataclasses

    from paramcalc.report import COUNT_FIELDS, BlockRow, LayerRow

    for row in (LayerRow, BlockRow):
        names = [f.name for f in dataclasses.fields(row)]
        assert [n for n in names if n in COUNT_FIELDS] == list(COUNT_FIELDS), row.__name__


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_check_analyses_as_analyze_does_but_for_receptive_fields(path):
    """`check` skips receptive fields (it shows totals); every other number is analyze's."""
    from paramcalc.check import check_file

    checked, full = check_file(str(path), {}).report, analyze(str(path))
    assert checked is not None and checked.totals == full.totals
    for row in full.layers:
        row.receptive_field = None
    assert checked.layers == full.layers and checked.blocks == full.blocks


@pytest.mark.parametrize("binary", [False, True])
def test_human_units_round_half_to_even_as_decimal_does(binary):
    """units.py rounds in integers; Python's decimal (ROUND_HALF_EVEN) is the reference, on exact
    halves, carries into the next digit, negatives and numbers beyond a float's precision."""
    from decimal import ROUND_HALF_EVEN, Decimal, localcontext

    from paramcalc.units import BINARY, COUNT, human_bytes, human_params

    base, prefixes, digits, show = (1024, BINARY, 1, human_bytes) if binary else (1000, COUNT, 2, human_params)
    unit = "B" if binary else ""
    numbers = [0, 1, base - 1, base, -base, 2**63 - 1, 10**30 + 7, 999_995, 1_000_005, 1_000_015, 6_738_415_616]
    numbers += [(2 * k + 1) * base**i // (2 * 10**digits) for k in range(40) for i in (1, 2, 3)]  # exact halves
    for n in numbers:
        i = 0
        while abs(n) >= base ** (i + 1) and i < len(prefixes) - 1:
            i += 1
        with localcontext() as context:
            context.prec = 60
            value = (Decimal(n) / Decimal(base) ** i).quantize(Decimal(1).scaleb(-digits), ROUND_HALF_EVEN)
        expected = f"{value:f} {prefixes[i]}{unit}".rstrip() if i else f"{n} {unit}".rstrip()
        assert show(n) == expected, n


FIXTURE_SPECS = sorted((Path(__file__).parent / "fixtures").rglob("*.yaml"))


@pytest.mark.parametrize(
    "path", SPECS + FIXTURE_SPECS, ids=[str(p.relative_to(p.parents[1])) for p in SPECS + FIXTURE_SPECS]
)
def test_totals_only_sums_what_the_rows_sum(path):
    """`check` without the memory model sums each layer's counts without making rows: its totals,
    outputs and warnings are the full analysis's (ties, frozen layers, experts and composite kinds
    included), or it fails as the full analysis does."""
    from paramcalc.analysis import Analysis
    from paramcalc.errors import SpecError

    def report(**how):
        try:
            return Analysis.of(path, receptive_fields=False, activations=False, **how).report
        except SpecError as e:
            return str(e)

    full, only = report(), report(totals_only=True)
    if isinstance(full, str):
        assert only == full
        return
    assert only.totals == full.totals and only.outputs == full.outputs and only.warnings == full.warnings
    assert only.layers == [] and only.blocks == [] and full.layers


MIXED = """
name: mixed
input: [16, 32]
layers:
  - linear: {out: 32, name: proj}
    freeze: true
  - transformerencoderlayer: {heads: 4, ff: 64, batch_first: true}
  - router: {experts: 4, top_k: 2, name: gate}
  - experts: {experts: 4, top_k: 2, ff: 48, from: proj, name: moe}
  - buffer: {shape: [5, 8], name: state}
  - parameter: {shape: [32], name: scale}
  - linear: {out: 10, from: moe}
"""


def test_totals_only_counts_frozen_layers_experts_and_composite_kinds_as_rows_do():
    from paramcalc.analysis import Analysis

    spec = parse_spec(MIXED, "mixed.yaml")
    full = Analysis.of(spec, receptive_fields=False, activations=False).report
    only = Analysis.of(spec, receptive_fields=False, activations=False, totals_only=True).report
    assert full.totals.non_trainable and full.totals.active_params < full.totals.params and full.warnings
    assert only.totals == full.totals and only.outputs == full.outputs and only.warnings == full.warnings


def test_totals_only_has_no_rows_to_give_the_memory_model_or_receptive_fields():
    from paramcalc.analysis import Analysis

    for how in ({"activations": True, "receptive_fields": False}, {"activations": False, "receptive_fields": True}):
        with pytest.raises(ValueError, match="totals_only"):
            Analysis.of(SPECS[0], totals_only=True, **how)
