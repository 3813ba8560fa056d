"""Weights as quantised formats store them, in exact bytes. Pure: no I/O, no printing.

Which tensors a format quantises, and how many bytes a quantised tensor takes, per format:

- GPTQ and AWQ (`gptq-int4`, `gptq-int8`, `awq-int4`): the nn.Linear layers of the model, but not the
  output head (AutoGPTQ/GPTQModel and AutoAWQ quantise the linears of the decoder blocks; lm_head,
  embeddings, norms and biases stay fp16). A linear of K inputs and N outputs stores qweight
  K·N·bits/8 bytes (int32 words packing 32/bits values), qzeros ⌈K/g⌉·N·bits/8 bytes, and fp16 scales
  ⌈K/g⌉·N·2 bytes for group size g (AutoAWQ's WQLinear_GEMM, awq/modules/linear/gemm.py; GPTQ's
  QuantLinear, which also keeps g_idx: K int32).
- bitsandbytes NF4 (`nf4`): every nn.Linear but the head (transformers' BitsAndBytesConfig keeps
  lm_head in 16 bits, `llm_int8_skip_modules` default), as Linear4bit stores it: 4-bit codes packed
  two to a byte, one absmax per block of 64; double quantisation (bnb_4bit_use_double_quant) stores
  each absmax as uint8 with an fp32 absmax per 256 of them and an fp32 offset; the NF4 code is 16 fp32
  values per tensor, and the 256-entry fp32 dynamic code of the nested absmax one tensor shared by all
  (bitsandbytes/functional.py at 01327aa0: quantize_4bit, quantize_blockwise's cached name2qmap).
- GGUF block types (`q8_0` ... `q6_k`): llama.cpp's `llama-quantize --pure` quantises every tensor of
  two or more dimensions (linears, embeddings, the head) to the type, and keeps one-dimensional ones
  (norm weights, biases) in F32 (llama-quant.cpp: `quantize &= (ggml_n_dims(tensor) >= 2)`). Each
  row of a tensor is cut into blocks of a fixed size; bytes per block from ggml's type table
  (ggml/src/ggml-common.h's block_q* structs; gguf-py's GGML_QUANT_SIZES, gguf 0.19.0).
"""

from __future__ import annotations

from typing import NamedTuple

from .errors import SpecError, did_you_mean

# GGUF type -> (elements per block, bytes per block), ggml's table (ggml-common.h, GGML_QUANT_SIZES)
GGUF_BLOCKS = {
    "q8_0": (32, 34),  # fp16 d + 32 int8
    "q4_0": (32, 18),  # fp16 d + 16 bytes of nibbles
    "q4_1": (32, 20),  # fp16 d, m + 16
    "q5_0": (32, 22),  # fp16 d + 4 bytes of high bits + 16
    "q5_1": (32, 24),  # fp16 d, m + 4 + 16
    "q2_k": (256, 84),  # 16 scales + 64 + fp16 d, dmin
    "q3_k": (256, 110),  # 32 hmask + 64 + 12 scales + fp16 d
    "q4_k": (256, 144),  # fp16 d, dmin + 12 scales + 128
    "q5_k": (256, 176),  # fp16 d, dmin + 12 scales + 32 qh + 128
    "q6_k": (256, 210),  # 128 ql + 64 qh + 16 scales + fp16 d
}
GROUPED = {"gptq-int4": 4, "gptq-int8": 8, "awq-int4": 4}  # -> bits
PLAIN_BITS = {"fp32": 32, "bf16": 16, "fp16": 16, "fp8": 8, "int8": 8, "int4": 4}
FORMATS = (*PLAIN_BITS, *GROUPED, "nf4", *GGUF_BLOCKS)
NF4_BLOCK = 64
NF4_NESTED_BLOCK = 256


class Matrix(NamedTuple):
    """One weight matrix of a layer: K inputs (the quantised groups run along them), N outputs."""

    k: int
    n: int


def matrices(layer, shapes) -> list[Matrix]:
    """A layer's 2-D weights as engines see them: a linear's, an attention's q, k, v and o projections,
    an embedding's table (rows of `dim`). Other kinds have none (their weights stay 16-bit)."""
    role = layer.tensor_parallel
    if role == "projection":
        return [Matrix(shapes[0][-1], layer.out)]
    if role == "heads":
        _, _, e, kdim, vdim, q, kv = layer._dims(shapes)
        return [Matrix(e, q), Matrix(kdim, kv), Matrix(vdim, kv), Matrix(q, e)]
    if role == "vocabulary":
        return [Matrix(layer.dim, layer.num)]
    return []


def _grouped(m: Matrix, bits: int, group: int, g_idx: bool) -> int:
    groups = -(-m.k // group)
    return m.k * m.n * bits // 8 + groups * m.n * bits // 8 + groups * m.n * 2 + (4 * m.k if g_idx else 0)


def _nf4(m: Matrix) -> int:
    numel = m.k * m.n
    blocks = -(-numel // NF4_BLOCK)
    nested = -(-blocks // NF4_NESTED_BLOCK)
    return -(-numel // 2) + blocks + 4 * nested + 4 + 4 * 16  # codes, absmax, its absmax, offset, NF4 code


def _gguf(m: Matrix, fmt: str, where: str) -> int:
    size, nbytes = GGUF_BLOCKS[fmt]
    if m.k % size:
        raise SpecError(
            f"{where}: GGUF {fmt.upper()} packs rows in blocks of {size}, but a row has {m.k} values "
            f"(not a multiple of {size}); pick a type with blocks of 32 (q8_0, q4_0, ...)"
        )
    return m.n * (m.k // size) * nbytes


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise SpecError(f"unknown weight format '{fmt}' (one of {', '.join(FORMATS)})", hint=did_you_mean(fmt, FORMATS))


def _axes(layer, mats: list[Matrix], width: int | None) -> list[str]:
    """Which dim of each matrix tensor parallelism splits: a column-parallel linear's outputs ("n"), a
    row-parallel one's inputs ("k", a linear that returns to the residual width); attention's q, k, v by
    output, o by input; an embedding's vocabulary ("n")."""
    if layer.tensor_parallel == "heads":
        return ["n", "n", "n", "k"]
    if layer.tensor_parallel == "projection" and mats and mats[0].n == width and mats[0].k != width:
        return ["k"]
    return ["n"] * len(mats)


def _shard(m: Matrix, axis: str, tp: int, vocab: bool, where: str) -> Matrix:
    if vocab:  # vLLM's VocabParallelEmbedding / ParallelLMHead: padded to a multiple of 64, then split
        return Matrix(m.k, -(-m.n // 64) * 64 // tp)
    dim = m.k if axis == "k" else m.n
    if dim % tp:
        raise SpecError(
            f"{where}: tensor parallelism over {tp} must divide its {dim} {'inputs' if axis == 'k' else 'outputs'}"
        )
    return Matrix(m.k // tp, m.n) if axis == "k" else Matrix(m.k, m.n // tp)


def weight_bytes(report, layers, fmt: str, group_size: int = 128, tp: int = 1, width: int | None = None) -> int:
    """The bytes of every parameter of the network stored in `fmt`: quantised matrices as the format
    stores them, every other parameter (norms, biases; the head and embeddings where the format keeps
    them) in 16 bits (F32 in GGUF). Tied weights are counted once (at their owner). With tp > 1, one
    tensor-parallel rank's: each matrix's shard (`width`: the residual stream's, which row-parallel
    linears return to); norms and biases whole on every rank."""
    check_format(fmt)
    if fmt in PLAIN_BITS and tp == 1:
        return -(-report.totals.params * PLAIN_BITS[fmt] // 8)
    if group_size < 1:
        raise SpecError(f"the group size must be at least 1, found {group_size}")
    gguf = fmt in GGUF_BLOCKS
    heads = set(report.outputs)
    total = 4 * 256 if fmt == "nf4" else 0  # bitsandbytes' shared dynamic code
    for row, layer in zip(report.layers, layers):
        if not row.params:
            continue
        shapes = [tuple(s) for s in row.input_shapes]
        mats = [] if row.shared else matrices(layer, shapes)  # a tied matrix is stored once, with its owner
        rest = row.params - row.shared - sum(m.k * m.n for m in mats)
        where = f"layer '{row.name}'"
        if tp > 1:
            vocab = layer.tensor_parallel == "vocabulary" or row.name in heads
            kv = (layer.kv_heads or layer.heads) if layer.tensor_parallel == "heads" else 0
            if 0 < kv < tp:  # vLLM replicates key/value heads: one whole head on each rank
                mats[1:3] = [Matrix(m.k, m.n // kv * tp) for m in mats[1:3]]
            mats = [_shard(m, axis, tp, vocab, where) for m, axis in zip(mats, _axes(layer, mats, width))]
        quantise = gguf or (row.name not in heads and layer.tensor_parallel in ("projection", "heads"))
        # GPTQ, AWQ and bitsandbytes quantise linears (attention projections too), not the head
        plain = 4 if gguf else 2 if fmt not in PLAIN_BITS else PLAIN_BITS[fmt] / 8
        total += int(rest * plain)
        for m in mats:
            if fmt in PLAIN_BITS or not quantise:
                total += int(m.k * m.n * plain)
            elif gguf:
                total += _gguf(m, fmt, where)
            elif fmt == "nf4":
                total += _nf4(m)
            else:
                total += _grouped(m, GROUPED[fmt], group_size, fmt.startswith("gptq"))
    return total
