"""Regenerates tests/fixtures/gguf.json: the tensor bytes of GGUF files that the `gguf` package (llama.cpp's
gguf-py) writes for a small Llama-style model, one file per block type.

gguf and numpy are not paramcalc's dependencies, so this runs in a venv of its own:

    python -m venv /tmp/ggufenv && /tmp/ggufenv/bin/pip install gguf==0.19.0 numpy
    /tmp/ggufenv/bin/python tests/generate_gguf_fixture.py

The model (tests/test_quant.py's TINY_LLAMA spec): vocabulary 512, hidden 256, 2 layers, 4 heads of 64
sharing 2 key/value heads, SwiGLU MLP of 512, untied head. Tensors are named and laid out as llama.cpp's
convert_hf_to_gguf.py writes a Llama (token_embd, blk.N.attn_q, ..., output). As `llama-quantize --pure`
does, every tensor of two dimensions is stored in the block type and every one-dimensional tensor (the
RMSNorm weights) in F32. Q8_0 to Q5_1 are quantised by gguf.quants.quantize from random weights; the
K-quants, which gguf-py can read but not write, are written as raw blocks of the type's byte shape
(gguf.quants.quant_shape_to_byte_shape). Each file is read back with GGUFReader, whose n_bytes per
tensor are recorded: the bytes the tensor data takes in the file (alignment padding excluded).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import gguf
import numpy as np
from gguf import GGMLQuantizationType as T, quants

OUT = Path(__file__).parent / "fixtures" / "gguf.json"
VOCAB, HIDDEN, LAYERS, HEADS, KV_HEADS, FF = 512, 256, 2, 4, 2, 512
HEAD_DIM = HIDDEN // HEADS
TYPES = [T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K]


def tensors() -> dict[str, tuple[int, ...]]:
    """name -> numpy shape (rows, row length), as convert_hf_to_gguf.py names a Llama's."""
    shapes = {"token_embd.weight": (VOCAB, HIDDEN)}
    for i in range(LAYERS):
        shapes |= {
            f"blk.{i}.attn_norm.weight": (HIDDEN,),
            f"blk.{i}.attn_q.weight": (HEADS * HEAD_DIM, HIDDEN),
            f"blk.{i}.attn_k.weight": (KV_HEADS * HEAD_DIM, HIDDEN),
            f"blk.{i}.attn_v.weight": (KV_HEADS * HEAD_DIM, HIDDEN),
            f"blk.{i}.attn_output.weight": (HIDDEN, HEADS * HEAD_DIM),
            f"blk.{i}.ffn_norm.weight": (HIDDEN,),
            f"blk.{i}.ffn_gate.weight": (FF, HIDDEN),
            f"blk.{i}.ffn_up.weight": (FF, HIDDEN),
            f"blk.{i}.ffn_down.weight": (HIDDEN, FF),
        }
    return shapes | {"output_norm.weight": (HIDDEN,), "output.weight": (VOCAB, HIDDEN)}


def write(path: Path, qtype, rng) -> None:
    writer = gguf.GGUFWriter(str(path), "llama")
    for name, shape in tensors().items():
        if len(shape) == 1:
            writer.add_tensor(name, rng.standard_normal(shape).astype(np.float32))
            continue
        values = rng.standard_normal(shape).astype(np.float32)
        try:
            data = quants.quantize(values, qtype)
        except NotImplementedError:  # K-quants: raw blocks of the type's byte shape
            data = np.zeros(quants.quant_shape_to_byte_shape(shape, qtype), dtype=np.uint8)
        writer.add_tensor(name, data, raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def main() -> None:
    rng = np.random.default_rng(0)
    out = {"gguf_version": gguf.__version__ if hasattr(gguf, "__version__") else "0.19.0", "types": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for qtype in TYPES:
            path = Path(tmp) / f"tiny-{qtype.name}.gguf"
            write(path, qtype, rng)
            reader = gguf.GGUFReader(str(path))
            per_tensor = {t.name: [t.tensor_type.name, int(t.n_bytes)] for t in reader.tensors}
            out["types"][qtype.name.lower()] = {
                "tensor_bytes": sum(n for _, n in per_tensor.values()),
                "file_bytes": path.stat().st_size,
                "tensors": per_tensor,
            }
    OUT.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
