"""The JSON writer is fast (rows written column by column, shallow reads of the report) but its
bytes are those of the plain recursive layout below, over `dataclasses.asdict` of the report: the
layout paramcalc has always written. Checked on every zoo spec and on hypothesis-built values."""

import dataclasses
import json
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from paramcalc import analyze, load_spec
from paramcalc.render.json import render_json, to_json
from paramcalc.report import SCHEMA_VERSION

SPECS = sorted((Path(__file__).resolve().parent.parent / "specs").glob("*.yaml"))


def reference_dump(value, indent: str = "") -> str:
    """Indented JSON in which lists of plain values (shapes, names) stay on one line, value by value."""
    inner = indent + "  "
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(k)}: {reference_dump(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{indent}}}"
    if isinstance(value, list) and value and any(isinstance(v, (dict, list)) and v for v in value):
        if all(isinstance(v, list) and not any(isinstance(x, (dict, list)) for x in v) for v in value):
            return json.dumps(value)
        return "[\n" + ",\n".join(inner + reference_dump(v, inner) for v in value) + f"\n{indent}]"
    return json.dumps(value, ensure_ascii=False)


def reference_dict(report) -> dict:
    """The report as deep copies of every row (`dataclasses.asdict`), keys in the contract's order."""
    shallow = report.to_dict()
    deep = dict(
        shallow,
        layers=[dataclasses.asdict(r) for r in report.layers],
        blocks=[dataclasses.asdict(r) for r in report.blocks],
        totals=dataclasses.asdict(report.totals),
    )
    assert list(deep) == list(shallow) and deep == shallow
    return deep


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_report_json_is_byte_for_byte_the_reference_layout(path):
    report = analyze(load_spec(str(path)))
    assert render_json(report) == reference_dump(reference_dict(report)) + "\n"
    assert json.loads(render_json(report))["schema_version"] == SCHEMA_VERSION


def test_a_field_added_to_a_row_is_written_without_changing_the_writer():
    @dataclasses.dataclass(frozen=True)
    class Row:
        index: int
        name: str
        receptive_field: list
        memory: dict
        ratio: float
        flag: bool
        field: dict | None

    rows = [
        Row(
            i,
            f"l{i}",
            [i, i] if i % 2 else [],
            {"act": i, "peak": [i]} if i else {},
            i / 3,
            i == 1,
            None if i == 2 else {"size": [i, 3], "stride": [1, i / 2], "global": i > 2, "at": {"x": [i]}},
        )
        for i in range(4)
    ]
    plain = [dataclasses.asdict(r) for r in rows]
    assert to_json({"layers": plain}) == reference_dump({"layers": plain}) + "\n"


# Printable text (and the controls json.dumps escapes itself): other characters are escaped on purpose,
# a difference from the reference tested in test_security.
TEXT = st.characters(codec="utf-8").filter(lambda c: c.isprintable() or c < " ")
NAMES = st.text(TEXT, max_size=6) | st.sampled_from(["name", "%s", "%", '"', "é", "\n", "}, {", '", "a": '])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True), NAMES)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(NAMES, inner, max_size=4)),
    max_leaves=20,
)
KEYS = st.lists(NAMES, min_size=1, max_size=5, unique=True)
# Lists of rows with shared keys (the writer's column-by-column path), whose values may be dicts
# sharing their keys down a column (a table inside the table).
ROWS = st.dictionaries(NAMES, KEYS, min_size=1, max_size=4).flatmap(
    lambda columns: st.lists(
        st.fixed_dictionaries(
            {
                key: st.one_of(VALUES, st.none(), st.fixed_dictionaries({k: VALUES for k in inner}))
                for key, inner in columns.items()
            }
        ),
        min_size=2,
        max_size=5,
    )
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(VALUES, ROWS, st.dictionaries(NAMES, ROWS | VALUES, max_size=3)))
def test_any_value_is_written_as_the_reference_layout(value):
    assert to_json(value) == reference_dump(value) + "\n"
