"""Attention: multiheadattention, and transformer encoder/decoder layers as composite kinds
that report their inner rows (self_attn, linear1, norm1, ...) like a block."""

from __future__ import annotations

from typing import NamedTuple

from ..errors import FieldError, ShapeError
from .base import (  # for annotations
    GLOBAL,
    REQUIRED,
    Context,
    Layer,
    Params,
    ReachOf,
    Saved,
    Shape,
    arg,
    check_declared,
    check_kv_heads,
    device_arg,
    dtype_arg,
    expect_rank,
    fmt_shape,
    kind_class,
    prod,
)
from .binding import BATCH_FIRST, Call, Hole, Kw, call, dtype, hole, kwargs, q
from .sdpa import Attention

# The class export writes where nn.MultiheadAttention cannot hold a layer (see MultiheadAttention.projected).
ATTENTION = '''

class Attention(nn.Module):
    """Multi-head attention from q/k/v/out linears and scaled_dot_product_attention: kv_heads key/value
    heads shared by groups of query heads (grouped-query), head_dim features per head, a bias per
    projection; leading dims of the batch-first (..., seq, E) inputs are batch dims."""

    def __init__(
        self,
        embed_dim,
        heads,
        kv_heads,
        head_dim,
        kdim,
        vdim,
        q_bias,
        k_bias,
        v_bias,
        out_bias,
        add_bias_kv=False,
        add_zero_attn=False,
        dropout=0.0,
        dtype=None,
    ):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, head_dim
        self.add_zero_attn, self.dropout = add_zero_attn, dropout
        self.q_proj = nn.Linear(embed_dim, heads * head_dim, bias=q_bias, dtype=dtype)
        self.k_proj = nn.Linear(kdim, kv_heads * head_dim, bias=k_bias, dtype=dtype)
        self.v_proj = nn.Linear(vdim, kv_heads * head_dim, bias=v_bias, dtype=dtype)
        self.out_proj = nn.Linear(heads * head_dim, embed_dim, bias=out_bias, dtype=dtype)
        if add_bias_kv:
            self.bias_k = nn.Parameter(torch.zeros(1, kv_heads * head_dim, dtype=dtype))
            self.bias_v = nn.Parameter(torch.zeros(1, kv_heads * head_dim, dtype=dtype))
        else:
            self.bias_k = self.bias_v = None

    def forward(self, query, key, value):
        q, k, v = self.q_proj(query), self.k_proj(key), self.v_proj(value)
        if self.bias_k is not None:
            k = torch.cat([k, self.bias_k.expand(*k.shape[:-2], 1, -1)], dim=-2)
            v = torch.cat([v, self.bias_v.expand(*v.shape[:-2], 1, -1)], dim=-2)
        if self.add_zero_attn:
            k = torch.cat([k, k.new_zeros(*k.shape[:-2], 1, k.shape[-1])], dim=-2)
            v = torch.cat([v, v.new_zeros(*v.shape[:-2], 1, v.shape[-1])], dim=-2)

        def split(x, n):
            return x.unflatten(-1, (n, self.head_dim)).transpose(-2, -3)

        out = nn.functional.scaled_dot_product_attention(
            split(q, self.heads),
            split(k, self.kv_heads),
            split(v, self.kv_heads),
            dropout_p=self.dropout if self.training else 0.0,
            enable_gqa=True,
        )
        return self.out_proj(out.transpose(-2, -3).flatten(-2))
'''


@kind_class
class MultiheadAttention(Layer):
    """Multi-head attention on (seq, E) samples: self-attention from one input, cross-attention
    with `from: [query, key_value]`, or `from: [query, key, value]`. E comes from the query; leading
    dims, as in Swin's (windows, seq, E), are extra batch dims. With kv_heads < heads it is grouped-query
    (multi-query at 1) attention, as Llama's q/k/v/o projections and scaled_dot_product_attention(enable_gqa)."""

    heads: int = arg(REQUIRED, "int", "attention heads; must divide E unless head_dim is given", aka=("num_heads",))
    kv_heads: int = arg(
        None,
        "int",
        "key/value heads (default heads); fewer: grouped-query, 1: multi-query; must divide heads",
        aka=("num_key_value_heads",),
    )
    head_dim: int = arg(None, "int", "features per head (default E / heads)")
    bias: bool = arg(True, "bool", "biases on the input and output projections")
    q_bias: bool = arg(None, "bool", "bias on the query projection (default: bias)")
    k_bias: bool = arg(None, "bool", "bias on the key projection (default: bias)")
    v_bias: bool = arg(None, "bool", "bias on the value projection (default: bias)")
    out_bias: bool = arg(None, "bool", "bias on the output projection (default: bias)")
    add_bias_kv: bool = arg(False, "bool", "learn an extra key and value (one more position)")
    add_zero_attn: bool = arg(False, "bool", "attend to an extra zero position")
    kdim: int = arg(None, "int", "key features (default E); checked against the key input")
    vdim: int = arg(None, "int", "value features (default E); checked against the value input")
    dropout: float = arg(0.0, "float", "attention dropout", counts=False)
    rotary: bool = arg(
        False,
        "bool",
        "rotary position embeddings on q and k (RoPE, as Llama): training keeps "
        "the cos and sin tables, shared by every layer",
        counts=False,
    )
    batch_first: bool = arg(
        False,
        "bool",
        "PyTorch's (batch, seq, E) layout (shapes here are per sample); in "
        "training a batch above 1 is then copied to (seq, batch, E) for the projections",
    )
    embed_dim: int = arg(None, "int", "E: inferred from the query; if given, checked against it", counts=False)
    device: str = device_arg()
    dtype: str = dtype_arg()

    kind, torch_name, primary, arity = "multiheadattention", "MultiheadAttention", "heads", (1, 3)
    autocast, tensor_parallel = "lower", "heads"
    formulas = {
        "output": "(*leading, L, E), the query's shape",
        "weights": "E·Q (q) + kdim·KV (k) + vdim·KV (v) + Q·E (out), Q = heads·head_dim, KV = kv_heads·head_dim "
        "(3·E·E + E·E for plain attention)",
        "bias": "Q (q_bias) + KV (k_bias) + KV (v_bias) + E (out_bias) + 2·KV (add_bias_kv)",
        "macs": "Π leading · (L·E·Q (q) + S·(kdim + vdim)·KV (k, v) + L·Q·E (out) + 2·L·S'·Q (QKᵀ and "
        "attention·V)), S' = S + add_bias_kv + add_zero_attn",
    }

    def validate(self) -> None:
        check_kv_heads(self.heads, self.kv_heads)

    def _dims(self, shapes):
        for shape in shapes:
            expect_rank(shape, tuple(range(2, 9)), "(..., seq, features)")
        query, key, value = (shapes * 3)[:3] if len(shapes) == 1 else (shapes[0], shapes[1], shapes[-1])
        e = query[-1]
        check_declared(self.embed_dim, e, "embed_dim")
        kdim, vdim = self.kdim or e, self.vdim or e
        if self.head_dim is None and e % self.heads:
            raise ShapeError(f"heads={self.heads} must divide the embedding size {e} (or give head_dim)")
        head_dim = self.head_dim or e // self.heads
        if key[-1] != kdim or value[-1] != vdim:
            raise ShapeError(
                f"key and value features must be kdim={kdim} and vdim={vdim}, found "
                f"{fmt_shape(key)} and {fmt_shape(value)}"
            )
        if key[-2] != value[-2]:
            raise ShapeError(f"key and value must have the same length, found {fmt_shape(key)} and {fmt_shape(value)}")
        if not query[:-2] == key[:-2] == value[:-2]:
            raise ShapeError(
                f"query, key and value must have the same leading dims, found "
                f"{fmt_shape(query)}, {fmt_shape(key)} and {fmt_shape(value)}"
            )
        return query[-2], key[-2], e, kdim, vdim, self.heads * head_dim, (self.kv_heads or self.heads) * head_dim

    def output_shape(self, shapes: list[Shape]) -> Shape:
        self._dims(shapes)
        return shapes[0]

    def projected(self, shapes) -> bool:
        """Whether PyTorch writes this attention as separate q/k/v/o linears (nn.MultiheadAttention has no
        kv_heads, head_dim, per-projection biases or leading dims)."""
        extended = (self.kv_heads, self.head_dim, self.q_bias, self.k_bias, self.v_bias, self.out_bias)
        return any(x is not None for x in extended) or len(shapes[0]) > 2

    def _has(self, bias):
        return self.bias if bias is None else bias

    def params(self, shapes: list[Shape]) -> Params:
        _, _, e, kdim, vdim, q, kv = self._dims(shapes)
        weights = e * q + (kdim + vdim) * kv + q * e
        bias = (
            q * self._has(self.q_bias)
            + kv * self._has(self.k_bias)
            + kv * self._has(self.v_bias)
            + e * self._has(self.out_bias)
            + (2 * kv if self.add_bias_kv else 0)
        )
        return Params(weights=weights, bias=bias)

    def macs(self, shapes: list[Shape], out: Shape) -> int:
        length, source, e, kdim, vdim, q, kv = self._dims(shapes)
        attended = source + self.add_bias_kv + self.add_zero_attn
        per_sample = length * e * q + source * (kdim + vdim) * kv + length * q * e + 2 * length * attended * q
        return prod(shapes[0][:-2]) * per_sample

    def saves(self, shapes: list[Shape], out: Shape, ctx: Context) -> Saved:
        """As F.multi_head_attention_forward keeps them in training (measured in tests/fixtures/memory.json):
        the projections' inputs (copies when batch_first and batch > 1), the projected q, k, v (self-attention:
        one packed 3·E tensor), then per kernel: flash the output and the log-sum-exp per head and position;
        math the scaled q, the softmax output (and with dropout its mask and the dropped weights), a copy of v,
        and the reassembled output for out_proj. (The CPU's flash kernel has no dropout; CUDA's keeps only
        its random seed.) Leading dims count as batch. Grouped-query attention, head_dim, per-projection biases
        and leading dims are measured on tests/torch_oracle.py's reference (separate q/k/v/o linears,
        scaled_dot_product_attention(enable_gqa=True)): Q- and KV-wide projections, and on math k and v
        repeated to every query head."""
        length, source, e, kdim, vdim, q, kv = self._dims(shapes)
        b = ctx.batch * prod(shapes[0][:-2])
        # Grouped-query, head_dim, per-projection biases or leading dims: written as q/k/v/o linears and
        # scaled_dot_product_attention(enable_gqa=True) (tests/torch_oracle.py's reference), with no packing
        # and no batch_first copies; else nn.MultiheadAttention's path.
        reference = self.projected(shapes)
        copied = self.batch_first and ctx.batch > 1 and not reference
        sizes = [length * e, source * kdim, source * vdim][: len(shapes)]
        kept = tuple(range(len(shapes))) if not copied else ()
        copies = tuple((b * n, "act") for n in sizes) if copied else ()
        plain = q == kv == e and not reference
        projected: tuple[tuple[int, str], ...]
        if len(shapes) == 1 and plain:
            projected = ((3 * b * length * e, "act"),)  # q, k, v: views of one packed tensor
        elif len(shapes) == 2 and kdim == e and plain:
            projected = ((b * length * e, "act"), (2 * b * source * e, "act"))  # q; k and v packed
        else:
            projected = ((b * length * q, "act"), (b * source * kv, "act"), (b * source * kv, "act"))
        # RoPE rotates q and k into new tensors of the same size (kept in place of the projections); the
        # products with the cos and sin tables keep those, computed once per step for every layer.
        head_dim = q // self.heads
        tables = (
            tuple(
                (("rotary", n, head_dim, part), n * head_dim, "act")
                for n in sorted({length, source})
                for part in ("cos", "sin")
            )
            if self.rotary
            else ()
        )
        # The fused kernels take only 4-D (batch, heads, seq, head_dim) inputs: with leading dims PyTorch runs math.
        if ctx.attention == "math" or len(shapes[0]) > 2:
            # Only k's storage stays of the projections (q is scaled into a new tensor, v copied for bmm).
            k_storage = projected[0] if len(projected) == 1 else projected[1]
            if kv < q:  # grouped-query: k is repeated to every query head (repeat_interleave) before the product
                k_storage = (b * source * q, "act")
            weights = b * self.heads * length * source
            # Attention dropout keeps its mask and the dropped weights (for the product with v) besides the softmax's.
            dropped = ((weights, "bool" if ctx.device == "cuda" else "act"), (weights, "act")) if self.dropout else ()
            return Saved(
                inputs=kept,
                tensors=(
                    *copies,
                    k_storage,
                    (b * length * q, "act"),
                    (weights, "act"),
                    *dropped,
                    (b * source * q, "act"),
                    (b * length * q, "act"),
                ),
                shared=tables,
            )
        return Saved(
            inputs=kept,
            tensors=(*copies, *projected, (b * length * q, "act"), (b * self.heads * length, "float32")),
            shared=tables,
        )

    def param_tensors(self, shapes: list[Shape]) -> int:
        _, _, e, kdim, vdim, q, kv = self._dims(shapes)
        if kdim == vdim == e and q == kv == e and not self.projected(shapes):  # one in_proj_weight and bias
            in_proj = 1 + any(self._has(x) for x in (self.q_bias, self.k_bias, self.v_bias))
        else:
            in_proj = 3 + sum(self._has(x) for x in (self.q_bias, self.k_bias, self.v_bias))
        return in_proj + 1 + self._has(self.out_bias) + (2 if self.add_bias_kv else 0)

    def kv_cache(self, shapes: list[Shape]) -> int:
        """Keys and values per position: 2 · kv_heads · head_dim."""
        return 2 * self._dims(shapes)[6]

    def reach(self, shapes: list[Shape], out: Shape) -> ReachOf:
        return GLOBAL

    torch_classes = {"Attention": ATTENTION}

    def torch_module(self, in_shapes: list[Shape]) -> Call | None:
        """nn.MultiheadAttention where it holds the layer, else the generated Attention (q/k/v/out linears,
        scaled_dot_product_attention)."""
        if not self.projected(in_shapes):
            sizes = [hole(in_shapes[0][-1], "embed_dim"), hole(self.heads, "num_heads")]
            return call(self.torch_name, sizes, [*kwargs(self, ("heads",)), BATCH_FIRST])
        query, key, value = _query_key_value(in_shapes)
        e = query[-1]
        head_dim = self.head_dim if self.head_dim is not None else e // self.heads
        items: list = [
            hole(e, "embed_dim"),
            hole(self.heads, "heads"),
            Kw("kv_heads", hole(self.kv_heads or self.heads, "kv_heads")),
            Kw("head_dim", hole(head_dim, "head_dim")),
            Kw("kdim", hole(key[-1], "kdim")),
            Kw("vdim", hole(value[-1], "vdim")),
        ]
        items += [
            Kw(name, hole(self._has(getattr(self, name)), name)) for name in ("q_bias", "k_bias", "v_bias", "out_bias")
        ]
        items.append(Kw("add_bias_kv", Hole(q(bool(self.add_bias_kv)), "add_bias_kv", not self.add_bias_kv)))
        items.append(Kw("add_zero_attn", Hole(q(bool(self.add_zero_attn)), "add_zero_attn", not self.add_zero_attn)))
        items.append(Kw("dropout", Hole(q(self.dropout or 0.0), "dropout", not self.dropout)))
        items.append(Kw("dtype", Hole(dtype(self.dtype), "dtype", not self.dtype)))
        return Call("Attention", items)

    def torch_call(self, module: str, args: list[str], in_shapes: list[Shape]) -> str:
        query, key, value = _query_key_value(args)
        if self.projected(in_shapes):
            return f"{module}({query}, {key}, {value})"
        return f"{module}({query}, {key}, {value}, need_weights=False)[0]"


def _query_key_value(inputs: list) -> tuple:
    """Query, key and value from one input (self-attention), two (query, key_value) or three."""
    return tuple((inputs * 3)[:3]) if len(inputs) == 1 else (inputs[0], inputs[1], inputs[-1])


class Inner(NamedTuple):
    """One row of a composite kind: a layer and what it reads (inner names, `input`, `memory`)."""

    name: str
    layer: Layer
    inputs: tuple[str, ...]


@kind_class
class _TransformerLayer(Layer):
    autocast = "lower"
    heads: int = arg(REQUIRED, "int", "attention heads; must divide d_model", aka=("nhead",))
    ff: int = arg(2048, "int", "feed-forward width", aka=("dim_feedforward",))
    dropout: float = arg(0.1, "float", "dropout", counts=False)
    activation: str = arg("relu", "choice", "feed-forward activation", choices=("relu", "gelu"))
    layer_norm_eps: float = arg(1e-5, "float", "LayerNorm eps", counts=False)
    norm_first: bool = arg(False, "bool", "pre-norm (normalise before attention and feed-forward)")
    bias: bool = arg(True, "bool", "biases in linear and norm layers")
    batch_first: bool = arg(False, "bool", "PyTorch's (batch, seq, d_model) layout, passed to the attention")
    d_model: int = arg(None, "int", "inferred from the input; if given, checked against it", counts=False)
    device: str = device_arg()
    dtype: str = dtype_arg()

    primary = "heads"

    def validate(self) -> None:
        if not 0 <= self.dropout <= 1:
            raise FieldError.of_value("dropout", f"expects a probability between 0 and 1, found {self.dropout}")

    def output_shape(self, shapes: list[Shape]) -> Shape:
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
        attention = self._make(
            "multiheadattention", heads=self.heads, bias=self.bias, dropout=self.dropout, batch_first=self.batch_first
        )
        drop = Inner(f"dropout{n}", self._make("dropout", p=self.dropout), (name,))
        add = Inner(f"residual{n}", self._make("add"), (residual, f"dropout{n}"))
        if self.norm_first:
            return [self._norm(n, norm_source), Inner(name, attention, (f"norm{n}", *sources)), drop, add]
        return [Inner(name, attention, sources), drop, add, self._norm(n, f"residual{n}")]

    def torch_module(self, in_shapes: list[Shape]) -> Call | None:
        sizes = [hole(in_shapes[0][-1], "d_model"), hole(self.heads, "nhead")]
        return call(self.torch_name, sizes, [*kwargs(self, ("heads",)), BATCH_FIRST])


@kind_class
class TransformerEncoderLayer(_TransformerLayer):
    """PyTorch's encoder layer on (seq, d_model): self-attention and a feed-forward block, each with
    a residual connection and a LayerNorm (after, or before with norm_first)."""

    kind, torch_name, composite = "transformerencoderlayer", "TransformerEncoderLayer", True
    formulas = {
        "output": "same as input",
        "weights": "the sum of its inner rows",
        "bias": "the sum of its inner rows",
        "macs": "the sum of its inner rows (attention, linear1, linear2)",
    }

    def inner(self, shapes) -> list[Inner]:
        d = shapes[0][1]
        if self.norm_first:
            rows = self._attention("self_attn", 1, (), "input", "input")
            return rows + [
                self._norm(2, "residual1"),
                *self._feed_forward(d, "norm2", 2),
                Inner("residual2", self._make("add"), ("residual1", "dropout2")),
            ]
        rows = self._attention("self_attn", 1, ("input",), "input", None)
        return rows + [
            *self._feed_forward(d, "norm1", 2),
            Inner("residual2", self._make("add"), ("norm1", "dropout2")),
            self._norm(2, "residual2"),
        ]


@kind_class
class TransformerDecoderLayer(_TransformerLayer):
    """PyTorch's decoder layer: `from: [target, memory]`; self-attention on the target, attention to
    the memory, and a feed-forward block, each with a residual connection and a LayerNorm."""

    kind, torch_name, arity, composite = "transformerdecoderlayer", "TransformerDecoderLayer", (2, 2), True
    formulas = TransformerEncoderLayer.formulas

    def output_shape(self, shapes: list[Shape]) -> Shape:
        expect_rank(shapes[1], (2,), "(seq, d_model) memory")
        if shapes[1][1] != shapes[0][1]:
            raise ShapeError(f"the memory's features must equal d_model {shapes[0][1]}, found {fmt_shape(shapes[1])}")
        return super().output_shape(shapes[:1])

    def inner(self, shapes) -> list[Inner]:
        d = shapes[0][1]
        if self.norm_first:
            rows = self._attention("self_attn", 1, (), "input", "input")
            rows += self._attention("multihead_attn", 2, ("memory",), "residual1", "residual1")
            return rows + [
                self._norm(3, "residual2"),
                *self._feed_forward(d, "norm3", 3),
                Inner("residual3", self._make("add"), ("residual2", "dropout3")),
            ]
        rows = self._attention("self_attn", 1, ("input",), "input", None)
        rows += self._attention("multihead_attn", 2, ("norm1", "memory"), "norm1", None)
        return rows + [
            *self._feed_forward(d, "norm2", 3),
            Inner("residual3", self._make("add"), ("norm2", "dropout3")),
            self._norm(3, "residual3"),
        ]


KINDS = [MultiheadAttention, TransformerEncoderLayer, TransformerDecoderLayer, Attention]
