"""A Hugging Face `config.json` -> a paramcalc spec (YAML text). Pure Python, no network, no transformers.

Layer names are the checkpoint's state_dict names (`model.layers.0.self_attn.q_proj`), so a spec row
can be found in the checkpoint. Attention is written as the checkpoint's projections with the
`attention` operation between them (QKᵀ and the weighted sum of V, the KV cache), so its costs are
counted and the names stay the checkpoint's. One module per architecture family: decoders.py
(Llama-style decoders), encoders.py (GPT-2, BERT, ViT, T5), vision.py (ConvNeXt, Swin), clip.py (CLIP and
its towers), whisper.py.

The config is untrusted: only validated numbers, booleans and a known model_type reach the spec,
which is written by yaml.safe_dump.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable

from ...errors import SpecError, describe, did_you_mean
from ..hf_config import check_config, read_config
from . import albert, bart, clip, deberta, decoders, deepseek, encoders, gpt, heads, mamba, vision, wav2vec2, whisper
from .common import Config

# model_type -> (the spec's builder, the transformers class it mirrors)
BUILDERS: dict[str, tuple[Callable[..., dict], str]] = {
    **{family: (decoders.llama_like, f.cls) for family, f in decoders.FAMILIES.items()},
    "gpt2": (lambda c, family, seq: encoders._gpt2(c, seq), "GPT2LMHeadModel"),
    "deepseek_v2": (deepseek.deepseek, "DeepseekV2ForCausalLM"),
    "deepseek_v3": (deepseek.deepseek, "DeepseekV3ForCausalLM"),
    "mamba": (mamba.mamba, "MambaForCausalLM"),
    "bart": (bart.bart, "BartForConditionalGeneration"),
    "gpt_neox": (lambda c, family, seq: gpt.gpt_neox(c, seq), "GPTNeoXForCausalLM"),
    "gptj": (lambda c, family, seq: gpt.gptj(c, seq), "GPTJForCausalLM"),
    "opt": (lambda c, family, seq: gpt.opt(c, seq), "OPTForCausalLM"),
    "bloom": (lambda c, family, seq: gpt.bloom(c, seq), "BloomForCausalLM"),
    "falcon": (lambda c, family, seq: gpt.falcon(c, seq), "FalconForCausalLM"),
    "bert": (lambda c, family, seq: encoders._bert(c, seq), "BertModel"),
    "roberta": (lambda c, family, seq: encoders._bert(c, seq), "RobertaModel"),
    "xlm-roberta": (lambda c, family, seq: encoders._bert(c, seq), "XLMRobertaModel"),
    "electra": (lambda c, family, seq: encoders._bert(c, seq, electra=True), "ElectraModel"),
    "distilbert": (lambda c, family, seq: encoders._distilbert(c, seq), "DistilBertModel"),
    "t5": (lambda c, family, seq: encoders._t5(c, seq), "T5ForConditionalGeneration"),
    "vit": (lambda c, family, seq: encoders._vit(c, seq), "ViTForImageClassification"),
    "convnext": (vision.convnext, "ConvNextForImageClassification"),
    "swin": (vision.swin, "SwinForImageClassification"),
    "clip": (clip.clip, "CLIPModel"),
    "clip_text_model": (clip.clip_text_model, "CLIPTextModel"),
    "clip_vision_model": (clip.clip_vision_model, "CLIPVisionModel"),
    "whisper": (whisper.whisper, "WhisperForConditionalGeneration"),
    "albert": (albert.albert, "AlbertModel"),
    "wav2vec2": (wav2vec2.wav2vec2, "Wav2Vec2Model"),
    "deberta-v2": (deberta.deberta, "DebertaV2Model"),
}
FAMILIES = tuple(BUILDERS)
DEFAULT_SEQ = 4096  # a common context: a model's maximum (131,072 for Llama 3) would make every figure absurd


# ---------------------------------------------------------------- entry point


def spec_from_config(raw: dict, source: str, seq: int | None = None) -> dict:
    """The spec document (a dict, ready for YAML) of a Hugging Face config."""
    return _build(raw, source, seq)[0]


def _build(raw: dict, source: str, seq: int | None) -> tuple[dict, str, str, str]:
    """The spec document, the transformers class it mirrors, how its sequence length was chosen, and a note
    for the header (what the spec does not mirror as written, or "")."""
    family = raw.get("model_type")
    if family not in BUILDERS:
        found = repr(family) if isinstance(family, str) else describe(family)
        raise SpecError(
            f"{source}: model_type {found} is not supported; paramcalc imports " + ", ".join(FAMILIES),
            hint=_suggestion(family),
        )
    c = Config(raw, source)
    build, cls = BUILDERS[family]
    seq, why = _seq(c, family, seq)
    body = build(c, family, seq)
    note = body.pop("note", "")  # a builder's word on what it writes
    cls = body.pop("cls", cls)  # the class it mirrors, where the builder chose it
    if family in heads.PREFIX:  # the task head the config's architectures names
        body, cls, head_note = heads.attach(c, family, body, cls)
        note = " ".join(filter(None, (note, head_note)))
    return {"name": family, **body}, cls, why, note


# model types transformers knows that paramcalc does not import: never a typo of one it does (mixtral is
# not mistral, qwen3_moe not qwen3: their counts differ), so they get no "did you mean"
OTHER_TYPES = (
    frozenset(
        "mixtral qwen2_moe qwen3_moe phi phi3 phimoe gpt_neox gptj opt bloom falcon starcoder2 olmo olmo2 olmoe cohere "
        "cohere2 stablelm deepseek_v2 deepseek_v3 gpt_oss mamba mamba2 jamba roberta xlm-roberta distilbert albert "
        "deberta deberta-v2 electra bart mbart siglip "
        "wav2vec2 hubert mt5 umt5 llama4 mllama gemma3 gemma3n granite granitemoe internlm2 exaone nemotron minicpm "
        "mpt codegen gpt_bigcode gpt_neo persimmon qwen2_vl qwen2_5_vl llava dbrx arctic grok".split()
    )
    - BUILDERS.keys()
)


def _suggestion(family) -> str | None:
    """A supported model_type spelled like the one given (a typo), never another family whose counts
    differ: a real model type we do not import, or a name that differs from ours by a version number or
    a suffix (qwen4, gemma2_moe), gets no suggestion."""
    if not isinstance(family, str) or family in OTHER_TYPES or any(ch.isdigit() for ch in family):
        return None
    hint = did_you_mean(family, FAMILIES)
    if hint is None or any((family.startswith(f) or f.startswith(family)) and f in hint for f in FAMILIES):
        return None
    return hint


POSITIONS_KEY = {
    "gpt2": "n_positions",
    "gptj": "n_positions",
    "bloom": "",
    "falcon": "",
    "mamba": "",
    "t5": None,
    "whisper": "max_target_positions",
}
# the default input of the families whose input is not a sequence of tokens: (its size, how the header says it)
DEFAULT_INPUT = {"wav2vec2": (wav2vec2.SAMPLES, f"{wav2vec2.SAMPLES:,} samples, 1 s of 16 kHz audio (--seq to change)")}


# what a spec cannot say as the model does, said in its header
NOTES = {
    "clip": "# The logits compare each image with the text beside it: CLIPModel compares every image with every\n"
    "# text of the batch, batch × projection_dim MACs per sample where the spec counts projection_dim.\n"
}
IMAGES = frozenset(("vit", "convnext", "swin", "clip_vision_model"))


def _seq(c: Config, family: str, seq: int | None) -> tuple[int, str]:
    if family in IMAGES:  # no sequence: the image the config names (--seq changes nothing)
        size = c.int("image_size", 224)
        return 0, f"image size {size}×{size} (the config's image_size)"
    if family == "clip":  # the text tower's sequence, beside the vision tower's image
        seq, why = _seq(clip.tower(c, "text_config"), "clip_text_model", seq)
        size = clip.tower(c, "vision_config").int("image_size", 224)
        return seq, f"{why}, and image size {size}×{size}"
    if seq is not None and family in DEFAULT_INPUT:
        return seq, f"{seq:,} samples (--seq)"
    if seq is not None:
        return seq, f"sequence length {seq:,} (--seq)"
    if family in DEFAULT_INPUT:
        return DEFAULT_INPUT[family]
    key = POSITIONS_KEY.get(family, "max_position_embeddings")
    if key is None:
        return 512, "sequence length 512"
    if not key:  # no maximum in the config (ALiBi, rope)
        return DEFAULT_SEQ, f"sequence length {DEFAULT_SEQ:,} (--seq to change)"
    most = c.int(key, DEFAULT_SEQ)
    if most < DEFAULT_SEQ:
        return most, f"sequence length {most:,}, the config's {key} (--seq to change)"
    return DEFAULT_SEQ, f"sequence length {DEFAULT_SEQ:,} of the config's {most:,} (--seq to change)"


def import_hf(path: str, seq: int | None = None) -> str:
    """YAML text of the spec for a Hugging Face config.json."""
    import yaml

    raw, source = read_config(path)
    check_config(raw, source, seq)
    doc, cls, why, note = _build(raw, source, seq)
    body = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, default_flow_style=None, width=110)
    header = (
        f"# Imported by paramcalc from a Hugging Face config (model_type {doc['name']}), as transformers'\n"
        f"# {cls}, at {why}.\n"
        + (
            "# Names are the checkpoint's state_dict names; attention is the checkpoint's projections\n"
            "# with the `attention` operation between them.\n"
            if "attention:" in body  # the kind, a key (a name is a value)
            else "# Names are the checkpoint's state_dict names.\n"
        )
    ) + NOTES.get(doc["name"], "")
    if note:  # paramcalc's own words (and class names checked to be identifiers), wrapped as comments
        header += "".join(f"# {line}\n" for line in textwrap.wrap(note, 100))
    return header + body
