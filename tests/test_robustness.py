"""Bad input never produces a traceback: whatever a spec holds, analysis gives a Report or a
SpecError (which the CLI turns into exit 2). Hypothesis writes the specs, from the words a spec
uses, nested any which way."""

import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from paramcalc import SpecError, analyze, parse_spec
from paramcalc.layers import REGISTRY
from paramcalc.spec import META_KEYS, TOP_KEYS

FIELDS = sorted({name for cls in REGISTRY.values() for name in cls.synonyms()})
WORDS = st.sampled_from(sorted(REGISTRY)[::3] + FIELDS[::2] + list(META_KEYS) + list(TOP_KEYS) + ["input", "b"])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 70),
    st.floats(-2, 2, allow_nan=False),
    st.sampled_from(["same", "valid", "$w", "${w * 2}", "${", "relu", "3x3", "input", "-1"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(WORDS, inner, max_size=4)),
    max_leaves=12,
)
LAYER = st.one_of(
    st.sampled_from(sorted(REGISTRY)),
    st.dictionaries(WORDS, VALUES, min_size=1, max_size=3),
    st.builds(
        lambda kind, fields: {kind: fields},
        st.sampled_from(sorted(REGISTRY)),
        st.dictionaries(st.sampled_from(FIELDS), SCALARS | st.lists(SCALARS, max_size=3), max_size=4),
    ),
)
SHAPES = st.lists(st.integers(1, 24), min_size=1, max_size=4)
SPECS = st.fixed_dictionaries(
    {"input": SHAPES, "layers": st.lists(LAYER, min_size=1, max_size=6)},
    optional={
        "blocks": st.dictionaries(
            st.sampled_from(["b", "relu", "blk"]),
            st.fixed_dictionaries(
                {"layers": st.lists(LAYER, max_size=3)}, optional={"args": st.dictionaries(WORDS, SCALARS)}
            ),
        ),
        "batch": st.integers(1, 3),
        "name": st.text(max_size=5),
        "outputs": st.lists(WORDS, max_size=2),
    },
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(SPECS)
def test_any_spec_gives_a_report_or_a_spec_error(doc):
    try:
        text = yaml.safe_dump(doc)
    except yaml.YAMLError:
        return
    try:
        analyze(parse_spec(text, "fuzz.yaml"))
    except SpecError as e:
        assert str(e)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_()[]{},=:-.xX $'\"", max_size=40))
def test_any_inline_layer_gives_a_report_or_a_spec_error(text):
    from paramcalc import inline_spec

    try:
        analyze(inline_spec("3x16x16", [text]))
    except SpecError as e:
        assert str(e)


def test_a_count_field_costs_nothing_per_unit():
    """Found by the fuzzer: an LSTM of a billion layers listed what each layer keeps (MemoryError), and
    a transposed convolution of a hundred-million-tap kernel visited every tap of every phase (a hang).
    Both are worked out in time independent of the count."""

    def saved(layers):
        text = f"input: [35, 650]\nlayers:\n  - lstm: {{hidden: 650, layers: {layers}, dropout: 0.5}}\n"
        return analyze(parse_spec(text, "s")).layers[0].saved_bytes

    one, two = saved(1), saved(2)
    assert saved(10**9) == one + (10**9 - 1) * (two - one)  # each later layer keeps as much as the second
    text = "input: [1, 2]\nlayers:\n  - convtranspose1d: {out: 1, kernel: 100000000, stride: 4000}\n"
    assert analyze(parse_spec(text, "s")).layers[0].receptive_field is None  # too long a pattern: untracked
