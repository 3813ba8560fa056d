"""Zoo totals against published figures. Sources are named next to each number."""

from pathlib import Path

import pytest

from paramcalc import analyze

SPECS = Path(__file__).parent.parent / "specs"

# torchvision's model docs (weights tables, "num_params" and "GFLOPS" per model),
# e.g. torchvision.models.AlexNet_Weights.IMAGENET1K_V1.meta["_ops"]
PUBLISHED = {
    "alexnet": (61_100_840, 0.714),
    "vgg16": (138_357_544, 15.47),
}


@pytest.mark.parametrize("name", PUBLISHED)
def test_zoo_matches_published(name):
    params, gmacs = PUBLISHED[name]
    report = analyze(str(SPECS / f"{name}.yaml"))
    assert report.totals.params == params
    digits = len(str(gmacs).split(".")[1])
    assert round(report.totals.macs / 1e9, digits) == gmacs
