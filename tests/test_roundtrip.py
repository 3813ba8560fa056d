"""`import hf` → `export` → the transformers model's state_dict loads with strict=True → the same logits.

tests/fixtures/roundtrip/ holds, per decoder family, a tiny config (NAME.json) and what transformers built
from it with a fixed seed (NAME.pt: its randomly initialised state_dict, input ids and logits; written by
tests/generate_roundtrip_fixture.py, which runs beside transformers in its own venv). Here, with CI's torch
alone: the config is imported, the spec exported, the exported module built, the state_dict loaded
strictly and the logits compared (float32). Families whose exported code cannot compute what the model
computes are listed with the reason: refused by export (a clean SpecError, asserted), or strict xfails.
Without torch, only the refusals and the fields' validation run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from helpers import run_cli

from paramcalc import SpecError, parse_spec
from paramcalc.export import export_pytorch
from paramcalc.importers.hf import spec_from_config

FIXTURE = Path(__file__).parent / "fixtures" / "roundtrip"
NAMES = sorted(p.stem for p in FIXTURE.glob("*.json"))
SEQ = 12  # the fixture's input length

# export refuses these specs, naming the construct it has no code for
REFUSED = {
    "bloom": "attention with alibi",
    "gemma2": "attention with softcap",  # (and its final_logit_softcapping has no layer in the spec)
    "mixtral": "kind 'experts' has no PyTorch equivalent",
}
# exported, but computing something else than transformers (strict: a fix turns the xfail into a failure)
COMPUTES_OTHERWISE: dict[str, str] = {}


def checkpoint_layout(name: str, state: dict) -> dict:
    """transformers' state_dict in the checkpoint's layout, which the imported spec's names follow: GPT-2's
    Conv1D weights are stored (in, out), transposed from nn.Linear's; GPT-NeoX checkpoints name the LM head
    embed_out (transformers 5 renames it lm_head when it loads one)."""
    if name == "gpt2":
        conv1d = (".c_attn.weight", ".c_proj.weight", ".c_fc.weight")
        return {k: v.t() if k.endswith(conv1d) else v for k, v in state.items()}
    if name == "gpt_neox":
        return {"embed_out.weight" if k == "lm_head.weight" else k: v for k, v in state.items()}
    return state


def exported(name: str) -> str:
    raw = json.loads((FIXTURE / f"{name}.json").read_text())
    return export_pytorch(parse_spec(yaml.safe_dump(spec_from_config(raw, name, seq=SEQ), sort_keys=False)))


def test_the_fixture_covers_the_decoder_families():
    wanted = {"llama", "mistral", "qwen2", "qwen3", "gemma", "phi3", "olmo2", "gpt2", "gpt_neox"}
    assert wanted <= set(NAMES)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_export_refuses_what_it_cannot_compute(name):
    with pytest.raises(SpecError, match=REFUSED[name]):
        exported(name)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(reason=COMPUTES_OTHERWISE.get(n, ""), strict=True))
        if n in COMPUTES_OTHERWISE
        else n
        for n in NAMES
        if n not in REFUSED
    ],
)
def test_exported_model_computes_the_models_logits(name):
    torch = pytest.importorskip("torch")
    data = torch.load(FIXTURE / f"{name}.pt", weights_only=True)
    namespace: dict = {}
    exec(compile(exported(name), f"<exported {name}>", "exec"), namespace)
    model = namespace["build_model"]().eval()
    model.load_state_dict(checkpoint_layout(name, data["state_dict"]), strict=True)
    ids = data["input_ids"]
    inputs = [ids]
    if "position_ids" in namespace["INPUT_SHAPES"]:
        # OPT's learned positions start at row 2 (transformers adds the offset inside its embedding)
        inputs.append(torch.arange(ids.shape[1])[None] + (2 if name == "opt" else 0))
    with torch.no_grad():
        logits = model(*inputs)
    assert logits.shape == data["logits"].shape
    difference = (logits - data["logits"]).abs().max().item()
    assert difference < 1e-5, f"{name}: logits differ by up to {difference:.3g}"


# ---------------------------------------------------------------- the rope fields, without torch

ROPE = (
    "inputs: {{x: [8, 32]}}\nlayers:\n"
    "  - attention: {{heads: 4, causal: true, position: rope, {fields}from: [x, x, x]}}\n"
)


@pytest.mark.parametrize(
    "fields, message",
    [
        ("rope_factor: 8, ", "rope_factor needs rope_scaling: llama3 or linear"),
        ("rope_scaling: llama3, rope_factor: 8, ", "rope_scaling: llama3 needs rope_low_freq_factor"),
        ("rope_scaling: linear, ", "rope_scaling: linear needs rope_factor"),
        ("rope_theta: 0, ", "expects a positive number, found 0"),
        (
            "rope_scaling: llama3, rope_factor: 8, rope_low_freq_factor: 4, rope_high_freq_factor: 1, "
            "rope_original_positions: 16, ",
            "expects more than rope_low_freq_factor",
        ),
        ("packing: heads, ", "packing: heads reads one packed q|k|v tensor, found 3 inputs"),
    ],
)
def test_rope_fields_are_checked(fields, message):
    with pytest.raises(SpecError, match=message.replace("|", r"\|")):
        export_pytorch(parse_spec(ROPE.format(fields=fields)))


def test_rope_fields_need_rope():
    with pytest.raises(SpecError, match="rope_theta needs position: rope"):
        export_pytorch(
            parse_spec(ROPE.replace("position: rope", "position: none").format(fields="rope_theta: 500000, "))
        )


def test_a_scaling_export_cannot_write_is_refused():
    spec = parse_spec(ROPE.format(fields="rope_scaling: yarn, "))
    with pytest.raises(SpecError, match="attention with rope_scaling yarn"):
        export_pytorch(spec)


@pytest.mark.parametrize("key", ["rope_scaling", "rope_parameters"])
def test_import_reads_rope_from_either_key(key):
    """transformers 4 configs (checkpoints) say rope_theta and rope_scaling; transformers 5 saves both in
    rope_parameters."""
    raw = json.loads((FIXTURE / "llama.json").read_text())
    scaling = raw.pop("rope_scaling")
    if key == "rope_parameters":
        scaling = {**scaling, "rope_theta": raw.pop("rope_theta")}
    attention = spec_from_config({**raw, key: scaling}, "llama.json", seq=SEQ)["blocks"]["decoder_layer"]
    fields = next(e["attention"] for e in attention["layers"][1]["layers"] if "attention" in e)
    assert {k: v for k, v in fields.items() if k.startswith("rope")} == {
        "rope_theta": 500000.0,
        "rope_scaling": "llama3",
        "rope_factor": 8.0,
        "rope_low_freq_factor": 1.0,
        "rope_high_freq_factor": 4.0,
        "rope_original_positions": 16,
    }


def test_an_unknown_rope_type_is_refused_at_import():
    raw = {**json.loads((FIXTURE / "llama.json").read_text()), "rope_scaling": {"rope_type": "spiral", "factor": 2}}
    with pytest.raises(SpecError, match="'rope_scaling.rope_type' expects one of .*found 'spiral'"):
        spec_from_config(raw, "llama.json", seq=SEQ)


# ---------------------------------------------------------------- verify --outputs

ATTENTION_MODEL = '''
import torch
from torch import nn


class Block(nn.Module):
    """Causal self-attention with rope (base 500000), written by hand."""

    def __init__(self):
        super().__init__()
        self.q_proj, self.k_proj, self.v_proj, self.o_proj = (nn.Linear(16, 16, bias=False) for _ in range(4))

    def forward(self, x):
        b, n, _ = x.shape
        q, k, v = (p(x).view(b, n, 4, 4).transpose(1, 2) for p in (self.q_proj, self.k_proj, self.v_proj))
        angle = torch.arange(n).float()[:, None] / 500000.0 ** (torch.arange(0, 4, 2).float() / 4)
        cos, sin = torch.cat([angle.cos()] * 2, -1), torch.cat([angle.sin()] * 2, -1)
        q, k = (t * cos + torch.cat([-t[..., 2:], t[..., :2]], -1) * sin for t in (q, k))
        out = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o_proj(out.transpose(1, 2).reshape(b, n, 16))


def block():
    torch.manual_seed(0)
    return Block()
'''
ATTENTION_SPEC = """input: [6, 16]
layers:
  - linear: {out: 16, bias: false, name: q_proj}
  - linear: {out: 16, bias: false, from: input, name: k_proj}
  - linear: {out: 16, bias: false, from: input, name: v_proj}
  - attention: {heads: 4, causal: true, position: rope, rope_theta: 500000, from: [q_proj, k_proj, v_proj]}
  - linear: {out: 16, bias: false, name: o_proj}
"""


@pytest.fixture
def attention_model(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    (tmp_path / "attention_model.py").write_text(ATTENTION_MODEL)
    monkeypatch.chdir(tmp_path)
    root = str(Path(__file__).parent.parent)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    return tmp_path


@pytest.mark.parametrize(
    "change",
    [
        ("", ""),  # the spec as the model computes it
        ("causal: true", "causal: false"),  # names and counts agree; the values do not
        ("rope_theta: 500000", "rope_theta: 10000"),
    ],
)
def test_verify_outputs_compares_what_they_compute(attention_model, change):
    spec = attention_model / "block.yaml"
    spec.write_text(ATTENTION_SPEC.replace(*change))
    counts = run_cli("verify", str(spec), "attention_model.py:block")
    assert counts.returncode == 0, counts.stdout + counts.stderr  # names and counts alone cannot tell
    out = run_cli("verify", str(spec), "attention_model.py:block", "--outputs", "-f", "json")
    result = json.loads(out.stdout)
    if not change[0]:
        assert out.returncode == 0 and result["output_difference"] < 1e-6, out.stdout + out.stderr
        assert "outputs within" in run_cli("verify", str(spec), "attention_model.py:block", "--outputs").stdout
    else:
        assert out.returncode == 1 and result["output_difference"] > 1e-3
        assert [(d["name"], d["what"]) for d in result["differences"]] == [("(output)", "values")]


def test_verify_outputs_names_a_state_dict_that_does_not_load(attention_model):
    spec = attention_model / "block.yaml"
    spec.write_text(ATTENTION_SPEC.replace("bias: false, name: o_proj", "bias: false, name: out_proj"))
    out = run_cli("verify", str(spec), "attention_model.py:block", "--outputs", "-f", "json")
    found = {(d["name"], d["what"]) for d in json.loads(out.stdout)["differences"]}
    assert out.returncode == 1 and ("(state_dict)", "load") in found


def test_an_offset_needs_a_weight():
    spec = "input: [4, 8]\nlayers:\n  - rmsnorm: {offset: 1, elementwise_affine: false}\n"
    with pytest.raises(SpecError, match="offset=1 needs elementwise_affine"):
        export_pytorch(parse_spec(spec))


@pytest.mark.parametrize("name, key", [("phi", "partial_rotary_factor"), ("gpt_neox", "rotary_pct")])
def test_partial_rotary_is_read_where_transformers_5_saves_it(name, key):
    """transformers 5 saves partial_rotary_factor (GPT-NeoX's rotary_pct) inside rope_parameters."""
    raw = json.loads((FIXTURE / f"{name}.json").read_text())
    moved = {k: v for k, v in raw.items() if k != key}
    moved["rope_parameters"] = {"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": raw[key]}
    assert spec_from_config(moved, name, seq=SEQ) == spec_from_config(raw, name, seq=SEQ)
