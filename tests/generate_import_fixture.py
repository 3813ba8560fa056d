"""Regenerates tests/fixtures/torch_import.json and tests/fixtures/imported/*.yaml: `paramcalc import
torch` over every torchvision classification model.

torchvision does not import beside the torch==2.13.0 test oracle, so this runs in its own venv:

    /work/tv/bin/python tests/generate_import_fixture.py [MODEL...]

With model names it re-records just those and keeps the other records.

Per model it records what torch reports (params, buffers, MACs as generate_zoo_fixture.py measures
them, output shape), how the import traced it, what `analyze` says of the imported spec and what
`paramcalc verify` finds when it compares the spec with the model (per named module). The
imported specs of the models listed in KEPT are committed, so tests/test_import.py re-analyses them
with the current code and compares with torch's numbers.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch
import torchvision
import yaml

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from generate_zoo_fixture import measure  # noqa: E402

from paramcalc import Analysis, parse_spec  # noqa: E402
from paramcalc.errors import SpecError  # noqa: E402
from paramcalc.importers.torch import spec_from_model  # noqa: E402
from paramcalc.verify import compare  # noqa: E402

OUT = HERE / "fixtures" / "torch_import.json"
SPECS = HERE / "fixtures" / "imported"
INPUTS = {"inception_v3": [3, 299, 299]}
# one or two per family, small enough to commit
KEPT = [
    "alexnet",
    "vgg11_bn",
    "resnet18",
    "resnext50_32x4d",
    "densenet121",
    "googlenet",
    "inception_v3",
    "mobilenet_v2",
    "mobilenet_v3_small",
    "efficientnet_b0",
    "mnasnet0_5",
    "shufflenet_v2_x0_5",
    "squeezenet1_1",
    "regnet_y_400mf",
    "convnext_tiny",
    "vit_b_16",
    "swin_t",
    "swin_v2_t",
    "maxvit_t",
]


def main():
    listed = torchvision.models.list_models(module=torchvision.models)
    names = sys.argv[1:] or listed
    result = {"torch": torch.__version__, "torchvision": torchvision.__version__, "listed": listed, "models": {}}
    if sys.argv[1:] and OUT.exists():
        result["models"] = json.loads(OUT.read_text())["models"]
    SPECS.mkdir(exist_ok=True)
    for name in names:
        torch.manual_seed(0)
        model = torchvision.models.get_model(name).eval()
        shape = INPUTS.get(name, [3, 224, 224])
        started = time.time()
        record = {"input": shape, "torch": measure(model, shape)}
        record["torch"].pop("modules")
        try:
            doc, how = spec_from_model(model, [tuple(shape)], None, name)
            text = yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=110)
            analysis = Analysis.of(parse_spec(text, name))
            report = analysis.report
            record["traced_with"] = how
            record["paramcalc"] = {
                "params": report.totals.params,
                "buffers": report.totals.buffers,
                "macs": report.totals.macs,
                "output_shape": report.output_shape,
            }
            # what `paramcalc verify` finds against the model: named modules and tensors, totals, output
            record["verify_differences"] = [
                [d.name, d.what, str(d.spec), str(d.model)] for d in compare(analysis, model, name).differences
            ]
            if name in KEPT:
                (SPECS / f"{name}.yaml").write_text(f"# paramcalc import torch torchvision.models:{name}\n" + text)
        except SpecError as e:
            record["error"] = str(e).splitlines()[0]
        same = {
            k: record.get("paramcalc", {}).get(k) == record["torch"][k]
            for k in ("params", "buffers", "macs", "output_shape")
        }
        record["agrees"] = same
        result["models"][name] = record
        print(
            f"{name}: {record.get('traced_with', record.get('error'))[:60]} {same} {time.time() - started:.1f}s",
            flush=True,
        )
    result["models"] = {name: result["models"][name] for name in listed if name in result["models"]}
    OUT.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
