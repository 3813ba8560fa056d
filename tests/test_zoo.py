"""The model zoo against torch/torchvision (tests/fixtures/zoo.json, from tests/generate_zoo_fixture.py):
exact params, buffers, MACs and output shape, and every spec block or layer named like a torchvision
module (layer1, layer1.0.downsample.0, features.denseblock2, ...) has that module's output shape and
parameter count."""

import json
from pathlib import Path

import pytest

from paramcalc import analyze

ROOT = Path(__file__).parent.parent
ZOO = json.loads((ROOT / "tests" / "fixtures" / "zoo.json").read_text())["models"]


@pytest.fixture(scope="module", params=sorted(ZOO))
def model(request):
    return request.param, analyze(str(ROOT / "specs" / f"{request.param}.yaml")), ZOO[request.param]


def test_totals_exact(model):
    name, report, torch_says = model
    assert report.input_shape == torch_says["input"]
    assert report.totals.params == torch_says["params"]
    assert report.totals.buffers == torch_says["buffers"]
    assert report.totals.macs == torch_says["macs"]
    assert report.output_shape == torch_says["output_shape"]


def test_named_blocks_match_torch_modules(model):
    name, report, torch_says = model
    modules = torch_says["modules"]
    matched = 0
    for row in [*report.blocks, *report.layers]:
        if row.name in modules:
            assert row.output_shape == modules[row.name]["output_shape"], row.name
            assert row.params == modules[row.name]["params"], row.name
            matched += 1
    assert matched >= 3, f"only {matched} spec names match torchvision modules"
