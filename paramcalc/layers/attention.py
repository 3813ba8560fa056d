"""Attention: multiheadattention, and transformer encoder/decoder layers as composite kinds
that report their inner rows (self_attn, linear1, norm1, ...) like a block."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import FieldError, ShapeError
from .base import (
    DTYPE_BYTES, GLOBAL, Layer, Params, REQUIRED, arg, check_declared, expect_rank, fmt_shape, kind_class,
)


@kind_class
class MultiheadAttention(Layer):
    """Multi-head attention on (seq, E) samples: self-attention from one input, cross-attention
    with `from: [query, key_value]`, or `from: [query, key, value]`. E comes from the query."""

    heads: int = arg(REQUIRED, "int", "attention heads; must divide E", aka=("num_heads",))
    bias: bool = arg(True, "bool", "biases on the input and output projections")
    add_bias_kv: bool = arg(False, "bool", "learn an extra key and value (one more position)")
    add_zero_attn: bool = arg(False, "bool", "attend to an extra zero position")
    kdim: int = arg(None, "int", "key features (default E); checked against the key input")
    vdim: int = arg(None, "int", "value features (default E); checked against the value input")
    dropout: float = arg(0.0, "float", "attention dropout", counts=False)
    batch_first: bool = arg(False, "bool", "ignored: shapes here are per sample, (seq, E)", counts=False)
    embed_dim: int = arg(None, "int", "E: inferred from the query; if given, checked against it", counts=False)
    device: str = arg(None, "str", "ignored", counts=False)
    dtype: str = arg(None, "choice", "parameter dtype (param_bytes)", choices=tuple(DTYPE_BYTES))

    kind, torch_name, primary, arity = "multiheadattention", "MultiheadAttention", "heads", (1, 3)
    formulas = {
        "output": "(L, E), the query's shape",
        "weights": "3·E·E if kdim = vdim = E, else E·E + E·kdim + E·vdim; plus E·E for out_proj",
        "bias": "3·E + E (when bias) + 2·E (when add_bias_kv)",
        "macs": "L·E·E (q) + S·kdim·E (k) + S·vdim·E (v) + L·E·E (out) + 2·L·S'·E (QKᵀ and attention·V), "
                "S' = S + add_bias_kv + add_zero_attn",
    }

    def _dims(self, shapes):
        for shape in shapes:
            expect_rank(shape, (2,), "(seq, features)")
        query, key, value = (shapes * 3)[:3] if len(shapes) == 1 else (shapes[0], shapes[1], shapes[-1])
        e = query[1]
        check_declared(self.embed_dim, e, "embed_dim")
        kdim, vdim = self.kdim or e, self.vdim or e
        if e % self.heads:
            raise ShapeError(f"heads={self.heads} must divide the embedding size {e}")
        if key[1] != kdim or value[1] != vdim:
            raise ShapeError(f"key and value features must be kdim={kdim} and vdim={vdim}, found "
                             f"{fmt_shape(key)} and {fmt_shape(value)}")
        if key[0] != value[0]:
            raise ShapeError(f"key and value must have the same length, found {fmt_shape(key)} and {fmt_shape(value)}")
        return query[0], key[0], e, kdim, vdim

    def output_shape(self, shapes):
        length, _, e, _, _ = self._dims(shapes)
        return (length, e)

    def params(self, shapes):
        _, _, e, kdim, vdim = self._dims(shapes)
        weights = e * (e + kdim + vdim) + e * e
        bias = (4 * e if self.bias else 0) + (2 * e if self.add_bias_kv else 0)
        return Params(weights=weights, bias=bias)

    def macs(self, shapes, out):
        length, source, e, kdim, vdim = self._dims(shapes)
        attended = source + self.add_bias_kv + self.add_zero_attn
        return length * e * e + source * e * (kdim + vdim) + length * e * e + 2 * length * attended * e

    def reach(self, shapes, out):
        return GLOBAL


@dataclass(frozen=True)
class Inner:
    """One row of a composite kind: a layer and what it reads (inner names, `input`, `memory`)."""

    name: str
    layer: Layer
    inputs: tuple[str, ...]


@kind_class
class _TransformerLayer(Layer):
    heads: int = arg(REQUIRED, "int", "attention heads; must divide d_model", aka=("nhead",))
    ff: int = arg(2048, "int", "feed-forward width", aka=("dim_feedforward",))
    dropout: float = arg(0.1, "float", "dropout", counts=False)
    activation: str = arg("relu", "choice", "feed-forward activation", choices=("relu", "gelu"))
    layer_norm_eps: float = arg(1e-5, "float", "LayerNorm eps", counts=False)
    norm_first: bool = arg(False, "bool", "pre-norm (normalise before attention and feed-forward)")
    bias: bool = arg(True, "bool", "biases in linear and norm layers")
    batch_first: bool = arg(False, "bool", "ignored: shapes here are per sample, (seq, d_model)", counts=False)
    d_model: int = arg(None, "int", "inferred from the input; if given, checked against it", counts=False)
    device: str = arg(None, "str", "ignored", counts=False)
    dtype: str = arg(None, "choice", "parameter dtype (param_bytes)", choices=tuple(DTYPE_BYTES))

    primary = "heads"

    def validate(self):
        if not 0 <= self.dropout <= 1:
            raise FieldError("dropout", f"expects a probability between 0 and 1, found {self.dropout}")

    def output_shape(self, shapes):
        expect_rank(shapes[0], (2,), "(seq, d_model)")
        check_declared(self.d_model, shapes[0][1], "d_model")
        return shapes[0]

    def _make(self, kind: str, **fields) -> Layer:
        from . import REGISTRY
        return REGISTRY[kind].build(fields)

    def _feed_forward(self, d_model, source, n):
        """linear1 → activation → dropout → linear2 → dropout{n}, from `source`."""
        return [
            Inner("linear1", self._make("linear", out=self.ff, bias=self.bias), (source,)),
            Inner("activation", self._make(self.activation), ("linear1",)),
            Inner("dropout", self._make("dropout", p=self.dropout), ("activation",)),
            Inner("linear2", self._make("linear", out=d_model, bias=self.bias), ("dropout",)),
            Inner(f"dropout{n}", self._make("dropout", p=self.dropout), ("linear2",)),
        ]

    def _norm(self, n, source):
        return Inner(f"norm{n}", self._make("layernorm", eps=self.layer_norm_eps, bias=self.bias), (source,))

    def _attention(self, name, n, sources, residual, norm_source):
        """attention (and its norm, before or after) with a residual connection."""
        attention = self._make("multiheadattention", heads=self.heads, bias=self.bias, dropout=self.dropout)
        drop = Inner(f"dropout{n}", self._make("dropout", p=self.dropout), (name,))
        add = Inner(f"residual{n}", self._make("add"), (residual, f"dropout{n}"))
        if self.norm_first:
            return [self._norm(n, norm_source), Inner(name, attention, (f"norm{n}", *sources)), drop, add]
        return [Inner(name, attention, sources), drop, add, self._norm(n, f"residual{n}")]


@kind_class
class TransformerEncoderLayer(_TransformerLayer):
    """PyTorch's encoder layer on (seq, d_model): self-attention and a feed-forward block, each with
    a residual connection and a LayerNorm (after, or before with norm_first)."""

    kind, torch_name = "transformerencoderlayer", "TransformerEncoderLayer"
    formulas = {"output": "same as input", "weights": "the sum of its inner rows", "bias": "the sum of its inner rows",
                "macs": "the sum of its inner rows (attention, linear1, linear2)"}

    def inner(self, shapes) -> list[Inner]:
        d = shapes[0][1]
        if self.norm_first:
            rows = self._attention("self_attn", 1, (), "input", "input")
            return rows + [self._norm(2, "residual1"), *self._feed_forward(d, "norm2", 2),
                           Inner("residual2", self._make("add"), ("residual1", "dropout2"))]
        rows = self._attention("self_attn", 1, ("input",), "input", None)
        return rows + [*self._feed_forward(d, "norm1", 2), Inner("residual2", self._make("add"), ("norm1", "dropout2")),
                       self._norm(2, "residual2")]


@kind_class
class TransformerDecoderLayer(_TransformerLayer):
    """PyTorch's decoder layer: `from: [target, memory]`; self-attention on the target, attention to
    the memory, and a feed-forward block, each with a residual connection and a LayerNorm."""

    kind, torch_name, arity = "transformerdecoderlayer", "TransformerDecoderLayer", (2, 2)
    formulas = TransformerEncoderLayer.formulas

    def output_shape(self, shapes):
        expect_rank(shapes[1], (2,), "(seq, d_model) memory")
        if shapes[1][1] != shapes[0][1]:
            raise ShapeError(f"the memory's features must equal d_model {shapes[0][1]}, found {fmt_shape(shapes[1])}")
        return super().output_shape(shapes[:1])

    def inner(self, shapes) -> list[Inner]:
        d = shapes[0][1]
        if self.norm_first:
            rows = self._attention("self_attn", 1, (), "input", "input")
            rows += self._attention("multihead_attn", 2, ("memory",), "residual1", "residual1")
            return rows + [self._norm(3, "residual2"), *self._feed_forward(d, "norm3", 3),
                                   Inner("residual3", self._make("add"), ("residual2", "dropout3"))]
        rows = self._attention("self_attn", 1, ("input",), "input", None)
        rows += self._attention("multihead_attn", 2, ("norm1", "memory"), "norm1", None)
        return rows + [*self._feed_forward(d, "norm2", 3), Inner("residual3", self._make("add"), ("norm2", "dropout3")),
                       self._norm(3, "residual3")]


KINDS = [MultiheadAttention, TransformerEncoderLayer, TransformerDecoderLayer]
