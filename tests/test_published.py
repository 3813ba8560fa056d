"""Zoo totals against published figures. Sources are named next to each number."""

from pathlib import Path

import pytest

from paramcalc import analyze, parse_spec

SPECS = Path(__file__).parent.parent / "specs"

# torchvision 0.29.1's published figures: <Model>_Weights.IMAGENET1K_V1.meta["num_params"] and
# meta["_ops"] (the GFLOPS column of its docs), e.g. ResNet50_Weights.IMAGENET1K_V1: 25557032, 4.089.
PUBLISHED = {
    "alexnet": (61_100_840, 0.714),
    "vgg16": (138_357_544, 15.47),
    "resnet18": (11_689_512, 1.814),
    "resnet50": (25_557_032, 4.089),
    "resnext50_32x4d": (25_028_904, 4.23),
    "wide_resnet50_2": (68_883_240, 11.398),
    "mobilenet_v2": (3_504_872, 0.301),
    "mobilenet_v3_large": (5_483_032, 0.217),
    "efficientnet_b0": (5_288_548, 0.386),
    "densenet121": (7_978_856, 2.834),
    "vit_b_16": (86_567_656, 17.564),
    "swin_t": (28_288_354, 4.491),  # Swin_T_Weights.IMAGENET1K_V1
    "convnext_tiny": (28_589_128, 4.456),  # ConvNeXt_Tiny_Weights.IMAGENET1K_V1
}

# HF transformers' pretrained "gpt2", head tied to wte: sum(p.numel() for p in model.parameters()) is
# 124,439,808 and the head 38,597,376 (huggingface/transformers issue #14960); untied, their sum.
GPT2_TIED, GPT2_HEAD = 124_439_808, 38_597_376
GPT2_UNTIED = GPT2_TIED + GPT2_HEAD


# Published with the checkpoints themselves (parameter counts only):
CHECKPOINTS = {
    # the BERT authors' bert-base-uncased checkpoint (google-research/bert, as HF transformers' BertModel with
    # its pooler): 109,482,240 parameters
    "bert_base": 109_482_240,
    # TinyLlama/TinyLlama-1.1B (Zhang et al. 2024; the checkpoint on the Hugging Face Hub): 1,100,048,384
    "tinyllama_1_1b": 1_100_048_384,
}


@pytest.mark.parametrize("name", CHECKPOINTS)
def test_zoo_matches_checkpoint_counts(name):
    assert analyze(str(SPECS / f"{name}.yaml")).totals.params == CHECKPOINTS[name]


@pytest.mark.parametrize("name", PUBLISHED)
def test_zoo_matches_published(name):
    params, gmacs = PUBLISHED[name]
    report = analyze(str(SPECS / f"{name}.yaml"))
    assert report.totals.params == params
    digits = len(str(gmacs).split(".")[1])
    assert round(report.totals.macs / 1e9, digits) == gmacs


def test_gpt2_tied_and_untied():
    text = (SPECS / "gpt2.yaml").read_text()
    tied = analyze(parse_spec(text, "gpt2.yaml"))
    assert tied.totals.params == GPT2_TIED
    head = next(r for r in tied.layers if r.name == "lm_head")
    assert (head.tied_to, head.shared, head.params) == ("wte", GPT2_HEAD, GPT2_HEAD)
    untied = analyze(parse_spec(text.replace(", tie: wte", ""), "gpt2.yaml"))
    assert untied.totals.params == GPT2_UNTIED
    assert untied.totals.macs == tied.totals.macs  # the head still multiplies
