"""Regenerates tests/fixtures/torch_import_families.json, tests/fixtures/imported_torch/*.yaml and the
status tables in README.md: `paramcalc import torch` over what people run beyond torchvision's
classifiers (those are tests/generate_import_fixture.py's): torchvision's detection, segmentation, video
and optical flow models, 40 timm models across its families, and transformers models built from tiny
configs (BERT, GPT-2, Llama; sdpa and eager attention).

torchvision, timm and transformers do not import beside the torch==2.13.0 test oracle, so this runs
in its own venv, from the repository root:

    /work/tv/bin/python tests/generate_torch_import_fixture.py [MODEL...]

With model names it re-records just those and keeps the other records. Runs over disjoint sets of
models can go side by side, each with its own record (TORCH_IMPORT_RECORD=part.json), merged after
with `--merge part.json ...`.

Per model it records what torch says, measured here and not by the importer: params and buffers,
MACs (half of FlopCounterMode's flops on the same input, math attention) and the output shapes (all
the tensors it returns, in order; the main one is the last, as in paramcalc); then
the import's status: "exact" (the imported spec, analysed, gives all four) or "refused" with the
message and the construct it names. Should an import ever exit 0 with other numbers, its status is
"wrong". The imported specs of the exact models are committed, and tests/test_import_torch.py
re-analyses them with today's code against the recorded figures.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import warnings
from pathlib import Path

import torch
import yaml
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from torch_import_table import BEGIN, END, table  # noqa: E402

from paramcalc import analyze, parse_spec  # noqa: E402
from paramcalc.errors import SpecError  # noqa: E402
from paramcalc.importers.torch import spec_from_model  # noqa: E402

OUT = Path(os.environ.get("TORCH_IMPORT_RECORD") or HERE / "fixtures" / "torch_import_families.json")
FIXTURE = HERE / "fixtures" / "torch_import_families.json"
SPECS = HERE / "fixtures" / "imported_torch"
README = HERE.parent / "README.md"
KEEP_BELOW = 200_000  # bytes: larger imported specs are recorded but not committed

IMAGE = [3, 224, 224]
RESIZING = ("fasterrcnn", "maskrcnn", "keypointrcnn", "retinanet", "fcos")
VIDEO_SMALL = [3, 16, 112, 112]
VIDEO = [3, 16, 224, 224]
TIMM = [
    # convolutional networks
    "resnet18", "resnet50d", "resnext50_32x4d", "seresnext26d_32x4d", "densenet121", "dpn68",
    "inception_v3", "vgg11", "regnetx_002", "regnety_016", "efficientnet_b0", "efficientnetv2_rw_t",
    "tf_efficientnet_lite0", "mobilenetv2_100", "mobilenetv3_large_100", "mnasnet_100", "ghostnet_100",
    "lcnet_050", "rexnet_100", "hrnet_w18_small", "cspdarknet53", "dla34", "res2net50_26w_4s",
    "nf_resnet50", "eca_nfnet_l0", "convnext_tiny", "convnextv2_atto",
    # transformers and hybrids
    "vit_tiny_patch16_224", "deit_tiny_distilled_patch16_224", "cait_xxs24_224",
    "swin_tiny_patch4_window7_224", "levit_128s", "mobilevit_xxs", "maxvit_tiny_tf_224",
    "coatnet_0_rw_224", "edgenext_xx_small", "poolformer_s12",
    # MLPs
    "mixer_b16_224", "resmlp_12_224", "gmlp_s16_224",
]  # fmt: skip


def tiny_transformers():
    import transformers as hf

    def bert(attn):
        config = hf.BertConfig(
            vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128
        )
        return _with(hf.BertModel, config, attn)

    def gpt2(attn):
        config = hf.GPT2Config(vocab_size=1000, n_embd=64, n_layer=2, n_head=4, n_positions=64)
        return _with(hf.GPT2LMHeadModel, config, attn)

    def llama(attn):
        config = hf.LlamaConfig(
            vocab_size=1000,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=64,
        )
        return _with(hf.LlamaForCausalLM, config, attn)

    return {
        f"{name}_{attn}": (lambda f=factory, a=attn: f(a), [16], 1000)
        for name, factory in (("bert", bert), ("gpt2", gpt2), ("llama", llama))
        for attn in ("sdpa", "eager")
    }


def _with(cls, config, attn):
    config._attn_implementation = attn
    model = cls(config)
    model.config.use_cache = False
    return model


def models() -> dict:
    """name -> (family, factory, per-sample input shapes, token vocabulary or None)."""
    import timm
    import torchvision

    tv = torchvision.models
    found: dict = {}
    for family, module in (("detection", tv.detection), ("segmentation", tv.segmentation)):
        for name in tv.list_models(module=module):
            # the R-CNNs, RetinaNet and FCOS resize to 224 (not 800) inside: the same network, less work here
            sized = {"min_size": 224, "max_size": 224} if name.startswith(RESIZING) else {}
            factory = lambda n=name, k=sized: tv.get_model(n, weights=None, weights_backbone=None, **k)  # noqa: E731
            found[name] = (family, factory, [IMAGE], None)
    for name in tv.list_models(module=tv.video):
        shape = VIDEO if name.startswith(("mvit", "s3d", "swin3d")) else VIDEO_SMALL
        found[name] = ("video", lambda n=name: tv.get_model(n, weights=None), [shape], None)
    for name in tv.list_models(module=tv.optical_flow):
        found[name] = ("optical_flow", lambda n=name: tv.get_model(n, weights=None), [IMAGE, IMAGE], None)
    for name in TIMM:
        shape = list(timm.models.get_pretrained_cfg(name).input_size)
        found[name] = ("timm", lambda n=name: timm.create_model(n, pretrained=False), [shape], None)
    for name, (factory, shape, vocab) in tiny_transformers().items():
        found[name] = ("transformers", factory, [shape], vocab)
    return found


def measure(model, shapes, vocab):
    """What torch says: params, buffers, MACs (FlopCounterMode, math attention) and the output shape."""
    torch.manual_seed(0)
    inputs = [torch.randint(0, vocab, (1, *s)) if vocab else torch.randn(1, *s) for s in shapes]
    counter = FlopCounterMode(display=False)
    torch.backends.mha.set_fastpath_enabled(False)
    with torch.no_grad(), counter, sdpa_kernel(SDPBackend.MATH), torch.backends.mkldnn.flags(enabled=False):
        out = model(*inputs)
    shapes = [list(t.shape[1:]) for t in _tensors(out)]
    return {
        "params": sum(p.numel() for p in model.parameters()),
        "buffers": sum(b.numel() for b in model.buffers()),
        "macs": counter.get_total_flops() // 2,
        "output_shape": shapes[-1] if shapes else None,  # the main output, the last (as paramcalc's)
        "output_shapes": shapes,
    }


def _tensors(out) -> list:
    """The tensors a model returns, in order: tuples, lists, dicts and transformers' ModelOutput."""
    if isinstance(out, torch.Tensor):
        return [out]
    values = out.values() if isinstance(out, dict) else out if isinstance(out, (tuple, list)) else []
    return [t for value in values for t in _tensors(value)]


_HOOKS = "and module hooks cannot stand in, as these modules have no paramcalc kind: "


def construct(message: str) -> str:
    """The constructs a refusal names, one short clause per tracer tried (the whole message is recorded):
    why fx could not, why torch.export could not, and which modules have no kind for the hooks."""
    message = message.removeprefix("cannot import: ")
    if message.startswith("the spec would be wrong ("):  # the guard: what differed, after the tracer's reasons
        tracer = "module hooks" if "module hooks" in message.split(",")[0] else "torch.export"
        found = re.search(r"\): ((?:the spec written|params|buffers|MACs|output|\d+ outputs) .*)$", message)
        return f"the spec {tracer} wrote differs from the model: {found.group(1)[:200] if found else ''}"
    clauses = []
    for part in message.split("; "):
        part = re.sub(r"\s+", " ", part)
        part = part.replace(_HOOKS, "hooks: no kind for ")
        part = re.sub(r" \('[^']*'\)", "", part)  # module paths: the class names say enough here
        part = re.sub(r"^(torch.fx cannot trace it \(\w+: [^.;]*)\. [^;]*\)$", r"\1)", part)  # its first sentence
        if part.startswith("hooks: no kind for "):
            part = "hooks: no kind for " + ", ".join(dict.fromkeys(part[19:].replace(" ...", "").split(", ")))
        clauses.append(part if len(part) <= 200 else part[:197] + "...")
    return "; ".join(clauses)


def record_one(name, family, factory, shapes, vocab) -> tuple[dict, str | None]:
    torch.manual_seed(0)
    model = factory().eval()
    record = {"family": family, "input": shapes, "torch": measure(model, shapes, vocab)}
    try:
        doc, how = spec_from_model(model, [tuple(s) for s in shapes], vocab, name)
    except SpecError as e:
        message = str(e).splitlines()[0]
        return {**record, "status": "refused", "message": message, "construct": construct(message)}, None
    text = yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=110)
    report = analyze(parse_spec(text, name))
    record["traced_with"] = how
    names = doc.get("outputs") or [next(iter(doc["layers"][-1].values()))["name"]]
    record["paramcalc"] = {
        "params": report.totals.params,
        "buffers": report.totals.buffers,
        "macs": report.totals.macs,
        "output_shape": report.output_shape,
        "output_shapes": [report.outputs[n] for n in names],
    }
    exact = record["paramcalc"] == record["torch"]
    record["status"] = "exact" if exact else "wrong"
    record["construct"] = "" if exact else "imported with other numbers than the model's"
    return record, text


def main():
    import timm
    import torchvision
    import transformers

    warnings.simplefilter("ignore")
    found = models()
    if sys.argv[1:2] == ["--merge"]:
        return merge(found, sys.argv[2:])
    names = sys.argv[1:] or list(found)
    result = {
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "timm": timm.__version__,
        "transformers": transformers.__version__,
        "listed": {name: family for name, (family, *_) in found.items()},
        "models": {},
    }
    if OUT.exists():
        result["models"] = json.loads(OUT.read_text())["models"]
    SPECS.mkdir(exist_ok=True)
    for name in names:
        family, factory, shapes, vocab = found[name]
        started = time.time()
        try:
            record, text = record_one(name, family, factory, shapes, vocab)
        except Exception as e:  # the model itself does not run here: recorded, never hidden
            record, text = {"family": family, "input": shapes, "status": "refused", "message": repr(e)[:300]}, None
            record["construct"] = f"not imported: the model does not run here under FlopCounterMode ({e!r})"[:200]
        spec = SPECS / f"{name}.yaml"
        spec.unlink(missing_ok=True)
        if text is not None and record["status"] == "exact" and len(text) < KEEP_BELOW:
            spec.write_text(f"# paramcalc import torch ({family}) {name}\n" + text)
        result["models"][name] = record
        print(
            f"{name}: {record['status']} {record.get('construct', '')[:150]} {time.time() - started:.1f}s", flush=True
        )
        result["models"] = {n: result["models"][n] for n in found if n in result["models"]}
        OUT.write_text(json.dumps(result, indent=1) + "\n")
    if OUT == FIXTURE:
        write_readme(result)


def merge(found: dict, parts: list[str]) -> None:
    result = json.loads(FIXTURE.read_text())
    for part in parts:
        result["models"].update(json.loads(Path(part).read_text())["models"])
    for record in result["models"].values():
        if record["status"] == "refused" and "torch" in record:  # else torch's own run failed: said so
            record["construct"] = construct(record["message"])
    result["models"] = {n: result["models"][n] for n in found if n in result["models"]}
    result["listed"] = {name: family for name, (family, *_) in found.items()}
    FIXTURE.write_text(json.dumps(result, indent=1) + "\n")
    write_readme(result)


def write_readme(result: dict) -> None:
    readme = README.read_text()
    start, end = readme.index(BEGIN), readme.index(END) + len(END)
    README.write_text(readme[:start] + table(result) + readme[end:])


if __name__ == "__main__":
    main()
