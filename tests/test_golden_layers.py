"""Every layer kind against PyTorch: the committed fixture (tests/generate_fixtures.py) records what
torch 2.13 reports for hundreds of random layers; paramcalc must match it exactly."""

import json
from pathlib import Path

import pytest
from helpers import analyze_case, case_spec_text

from paramcalc import SpecError

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "layers.json").read_text())
CASES = FIXTURE["cases"]


def case_id(case):
    return f"{case['kind']}-{json.dumps(case['fields'], separators=(',', ':'))}-{case['inputs']}"


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_layer_matches_torch(case):
    expected = case["expected"]
    if "error" in expected:
        with pytest.raises(SpecError):
            analyze_case(case)
    else:
        assert analyze_case(case) == expected, case_spec_text(case)


def test_fixture_is_broad():
    kinds = {c["kind"] for c in CASES}
    assert len(CASES) >= 300
    assert {
        "conv1d",
        "conv2d",
        "conv3d",
        "maxpool2d",
        "avgpool3d",
        "adaptivemaxpool1d",
        "batchnorm1d",
        "linear",
        "flatten",
        "dropout",
        "gelu",
        "softmax",
        "add",
        "concat",
        "matmul",
        "bmm",
        "buffer",
        "layernorm2d",
    } <= kinds
    attention = [c["fields"] for c in CASES if c["kind"] == "multiheadattention" and "error" not in c["expected"]]
    for field in ("kv_heads", "head_dim", "q_bias", "k_bias", "v_bias", "out_bias"):
        assert any(field in f for f in attention), field
    assert any(f.get("kv_heads") == 1 and f["heads"] > 1 for f in attention)  # multi-query
    assert any(1 < f.get("kv_heads", 1) < f["heads"] for f in attention)  # grouped-query
    assert any(len(c["inputs"][0]) > 2 for c in CASES if c["kind"] == "multiheadattention")  # leading dims
    assert any(
        c["inputs"][0][:-2] != c["inputs"][1][:-2]
        for c in CASES
        if c["kind"] == "matmul" and "error" not in c["expected"]
    )  # broadcasting


def test_attention_operation_cases_cover_its_fields():
    cases = [c for c in CASES if c["kind"] == "attention" and "error" not in c["expected"]]
    for field in ("kv_heads", "head_dim", "v_head_dim", "causal", "window", "softcap", "sinks", "rotary_dim"):
        assert any(field in c["fields"] for c in cases), field
    assert {c["fields"].get("position") for c in cases} >= {"rope", "alibi", None}
    assert any(len(c["inputs"]) == 1 for c in cases)  # one packed q|k|v
    assert any(len(c["inputs"][0]) > 2 for c in cases)  # leading dims
    assert any(c["expected"]["weights"] for c in cases)  # sinks are parameters
