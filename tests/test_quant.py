"""Quantised weights (paramcalc/quant.py) against the formats' definitions and a file a library wrote.

GGUF: tests/fixtures/gguf.json, from tests/generate_gguf_fixture.py, records the tensor bytes of GGUF files
that gguf-py 0.19.0 (llama.cpp's writer) wrote for the model below in each block type. GPTQ and AWQ: the
buffers of AutoAWQ's WQLinear_GEMM (casper-hansen/AutoAWQ awq/modules/linear/gemm.py: qweight (K, N/8)
int32, qzeros (K/g, N/8) int32, scales (K/g, N) fp16) and of GPTQ's QuantLinear (qweight (K/8, N) int32,
qzeros (K/g, N/8) int32, scales (K/g, N) fp16, g_idx (K,) int32). NF4: bitsandbytes' quantize_4bit
(bitsandbytes/functional.py at 01327aa0): (n + 1) // 2 bytes of codes, an absmax per 64 values, with
double quantisation a uint8 absmax, an fp32 absmax per 256 blocks, an fp32 offset, a 16-entry fp32 code."""

import json
from pathlib import Path

import pytest

from paramcalc import Analysis
from paramcalc.errors import SpecError
from paramcalc.quant import weight_bytes
from paramcalc.spec import parse_spec

ROOT = Path(__file__).parent.parent
GGUF = json.loads((ROOT / "tests/fixtures/gguf.json").read_text())

# tests/generate_gguf_fixture.py's model, as a spec (HF Llama layout)
TINY_LLAMA = """
name: tiny_llama
input: [16]
blocks:
  decoder_layer:
    layers:
      - rmsnorm: {name: input_layernorm}
      - multiheadattention: {heads: 4, kv_heads: 2, bias: false, name: self_attn}
      - add: {from: input, name: residual}
      - rmsnorm: {name: post_attention_layernorm}
      - linear: {out: 512, bias: false, name: gate_proj}
      - silu: {name: act_fn}
      - linear: {out: 512, bias: false, from: post_attention_layernorm, name: up_proj}
      - mul: {from: [act_fn, up_proj]}
      - linear: {out: 256, bias: false, name: down_proj}
      - add: {from: residual}
layers:
  - embedding: {num: 512, dim: 256, name: embed_tokens}
  - {repeat: 2, name: layers, decoder_layer: {}}
  - rmsnorm: {name: norm}
  - linear: {out: 512, bias: false, name: lm_head}
"""


def _bytes(text, fmt, group=128):
    analysis = Analysis.of(parse_spec(text, "<quant>"))
    return weight_bytes(analysis.report, analysis.layers, fmt, group)


@pytest.mark.parametrize("fmt", sorted(GGUF["types"]))
def test_gguf_bytes_equal_the_file_gguf_py_wrote(fmt):
    assert _bytes(TINY_LLAMA, fmt) == GGUF["types"][fmt]["tensor_bytes"]


def test_gguf_keeps_one_dimensional_tensors_in_f32():
    for fmt, written in GGUF["types"].items():
        kept = {name for name, (kind, _) in written["tensors"].items() if kind == "F32"}
        assert kept == {n for n in written["tensors"] if "norm" in n}, fmt


def test_a_k_quant_needs_rows_of_256():
    with pytest.raises(SpecError, match="blocks of 256"):
        _bytes("input: [4, 100]\nlayers:\n  - linear: 8\n  - rmsnorm\n", "q4_k")


ONE_LINEAR = "input: [4, 4096]\nlayers:\n  - linear: {out: 4096, bias: false}\n  - rmsnorm: {}\n"  # norm: 4096 fp16


def test_awq_int4_one_linear():
    # K = N = 4096, g = 128: qweight 4096 · 512 int32, qzeros 32 · 512 int32, scales 32 · 4096 fp16
    assert _bytes(ONE_LINEAR, "awq-int4") == 4096 * 512 * 4 + 32 * 512 * 4 + 32 * 4096 * 2 + 4096 * 2


def test_gptq_keeps_g_idx_and_group_size_is_an_option():
    expected = 512 * 4096 * 4 + 64 * 512 * 4 + 64 * 4096 * 2 + 4096 * 4 + 4096 * 2  # g = 64
    assert _bytes(ONE_LINEAR, "gptq-int4", group=64) == expected
    int8 = 1024 * 4096 * 4 + 32 * 1024 * 4 + 32 * 4096 * 2 + 4096 * 4 + 4096 * 2  # int32 words of 4
    assert _bytes(ONE_LINEAR, "gptq-int8") == int8


def test_nf4_double_quantised():
    numel = 4096 * 4096
    blocks = numel // 64
    expected = numel // 2 + blocks + 4 * (blocks // 256) + 4 + 16 * 4 + 256 * 4 + 4096 * 2
    assert _bytes(ONE_LINEAR, "nf4") == expected


def test_the_head_and_embeddings_stay_16_bit_in_awq():
    analysis = Analysis.of(parse_spec(TINY_LLAMA, "<quant>"))
    awq = weight_bytes(analysis.report, analysis.layers, "awq-int4")
    head_and_embedding = 2 * (512 * 256) * 2
    norms = (2 * 2 + 1) * 256 * 2
    per_layer = sum(
        k * n // 2 + (k // 128) * n // 2 + (k // 128) * n * 2
        for k, n in [(256, 256), (256, 128), (256, 128), (256, 256), (256, 512), (256, 512), (512, 256)]
    )
    assert awq == head_and_embedding + norms + 2 * per_layer


def test_memory_inference_counts_weights_as_stored():
    from paramcalc.memory import Settings, memory

    result = memory(Analysis.of(parse_spec(TINY_LLAMA, "<quant>")), Settings(train=False, weights="q4_0"))
    assert result.components["parameters"] == GGUF["types"]["q4_0"]["tensor_bytes"]
