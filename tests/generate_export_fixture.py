"""Regenerates tests/fixtures/export.json: torchvision's side of `paramcalc export`.

torchvision does not import beside the torch==2.13.0 test oracle, so this runs in its own venv, as
generate_zoo_fixture.py does:

    /work/tv/bin/python tests/generate_export_fixture.py

For every spec in specs/ that describes a torchvision model it records torchvision's state_dict keys
with their shapes, and its eval-mode output on a fixed input after filling every tensor by its key
(tests/export_oracle.py). test_export.py exports the spec, fills the exported module the same way,
and compares: the same keys and shapes, and the same output, means the spec loads torchvision's
weights and computes what torchvision computes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import torchvision

sys.path.insert(0, str(Path(__file__).parent))
from export_oracle import example_input, fill  # noqa: E402

OUT = Path(__file__).parent / "fixtures" / "export.json"
MODELS = [
    "alexnet",
    "vgg16",
    "resnet18",
    "resnet50",
    "resnext50_32x4d",
    "wide_resnet50_2",
    "mobilenet_v2",
    "mobilenet_v3_large",
    "efficientnet_b0",
    "densenet121",
    "vit_b_16",
]
INPUTS = {"vit_b_16": [3, 224, 224]}  # the others take any size >= 64; small keeps the test fast
KEPT = 16  # logits kept per sample; the mean and the norm summarise the rest


def main():
    result = {"torch": torch.__version__, "torchvision": torchvision.__version__, "models": {}}
    torch.backends.mkldnn.enabled = False
    for name in MODELS:
        model = getattr(torchvision.models, name)().eval()
        fill(model)
        shape = INPUTS.get(name, [3, 64, 64])
        with torch.no_grad():
            out = model(example_input(shape))
        result["models"][name] = {
            "input": shape,
            "state_dict": {k: list(v.shape) for k, v in model.state_dict().items()},
            "output_shape": list(out.shape),
            "output_head": [[round(float(v), 6) for v in row[:KEPT]] for row in out],
            "output_mean": float(out.double().mean()),
            "output_norm": float(out.double().norm()),
        }
        print(
            f"{name}: {len(result['models'][name]['state_dict'])} tensors, |out| = "
            f"{result['models'][name]['output_norm']:.4f}"
        )
    OUT.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
