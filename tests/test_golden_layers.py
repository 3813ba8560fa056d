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
    assert {"conv1d", "conv2d", "conv3d", "maxpool2d", "avgpool3d", "adaptivemaxpool1d", "batchnorm1d",
            "linear", "flatten", "dropout", "gelu", "softmax", "add", "concat"} <= kinds
