"""The attention operation: scaled dot-product attention between a model's own q, k and v projections
(the `attention` kind of the attention family), with its MACs, saved tensors, KV cache and binding."""

from __future__ import annotations

import math

from ..errors import FieldError, ShapeError
from .base import (
    GLOBAL,
    REQUIRED,
    Context,
    Layer,
    Params,
    ReachOf,
    Saved,
    Shape,
    arg,
    check_kv_heads,
    expect_rank,
    fmt_shape,
    kind_class,
    prod,
)
from .binding import Call, Hole, Kw, Unexportable, hole, q

POSITIONS = ("none", "rope", "alibi")
# rope's frequency scalings as transformers names them (rope_type); export writes none, linear and llama3
ROPE_SCALINGS = ("none", "linear", "llama3", "dynamic", "yarn", "longrope")
EXPORTED_SCALINGS = ("none", "linear", "llama3")
PACKINGS = ("qkv", "heads")

# The function export writes for the attention operation (see Attention.torch_forward).
SDPA = '''

class ScaledDotProductAttention(nn.Module):
    """scaled_dot_product_attention on batch-first (..., seq, heads · head_dim) q, k and v, kv_heads
    key/value heads shared by groups of query heads; rope on the first rotary_dim features of each head
    (rotate-half pairs (i, i + rotary_dim / 2), or interleaved pairs (2i, 2i + 1) as GPT-J; base theta;
    frequencies as Llama 3 scales them when llama3 = (factor, low_freq_factor, high_freq_factor,
    original_max_position_embeddings), or divided by linear); causal and sliding-window masks. No parameters."""

    def __init__(
        self,
        heads,
        kv_heads,
        head_dim,
        causal=False,
        window=0,
        rotary_dim=0,
        scale=None,
        dropout=0.0,
        theta=10000.0,
        interleaved=False,
        linear=None,
        llama3=None,
    ):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim, self.causal = heads, kv_heads, head_dim, causal
        self.window, self.rotary_dim, self.scale, self.dropout = window, rotary_dim, scale, dropout
        self.theta, self.interleaved, self.linear, self.llama3 = theta, interleaved, linear, llama3

    def frequencies(self, device):
        """rope's inverse frequencies, as transformers computes them (float32)."""
        exponents = torch.arange(0, self.rotary_dim, 2, dtype=torch.int64, device=device).float() / self.rotary_dim
        freq = 1.0 / (self.theta**exponents)
        if self.linear:
            freq = freq / self.linear
        if self.llama3:
            factor, low, high, original = self.llama3
            wavelength = 2 * torch.pi / freq
            scaled = torch.where(wavelength > original / low, freq / factor, freq)
            smooth = (original / wavelength - low) / (high - low)
            smoothed = (1 - smooth) * scaled / factor + smooth * scaled
            medium = ~(wavelength < original / high) * ~(wavelength > original / low)
            freq = torch.where(medium, smoothed, scaled)
        return freq

    def rope(self, x):
        freq = self.frequencies(x.device)
        angle = torch.arange(x.shape[-2], device=x.device, dtype=torch.float32)[:, None] * freq[None, :]
        r, rest = x[..., : self.rotary_dim], x[..., self.rotary_dim :]
        if self.interleaved:
            cos = angle.cos().repeat_interleave(2, -1).to(x.dtype)
            sin = angle.sin().repeat_interleave(2, -1).to(x.dtype)
            turned = torch.stack([-r[..., 1::2], r[..., ::2]], -1).flatten(-2)
        else:
            cos, sin = torch.cat([angle.cos()] * 2, -1).to(x.dtype), torch.cat([angle.sin()] * 2, -1).to(x.dtype)
            half = self.rotary_dim // 2
            turned = torch.cat([-r[..., half:], r[..., :half]], -1)
        return torch.cat([r * cos + turned * sin, rest], -1)

    def forward(self, q, k, v):
        q = q.unflatten(-1, (self.heads, self.head_dim)).transpose(-2, -3)
        k = k.unflatten(-1, (self.kv_heads, self.head_dim)).transpose(-2, -3)
        v = v.unflatten(-1, (self.kv_heads, -1)).transpose(-2, -3)
        if self.rotary_dim:
            q, k = self.rope(q), self.rope(k)
        mask, causal = None, self.causal
        if self.window:
            i = torch.arange(q.shape[-2], device=q.device)[:, None]
            j = torch.arange(k.shape[-2], device=q.device)[None, :]
            mask = (i - j < self.window) & ((j <= i) if causal else True)
            causal = False
        out = nn.functional.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=mask,
            dropout_p=self.dropout if self.training else 0.0,
            is_causal=causal,
            scale=self.scale,
            enable_gqa=True,
        )
        return out.transpose(-2, -3).flatten(-2)
'''


@kind_class
class Attention(Layer):
    """Scaled dot-product attention as an operation, without parameters (but sinks): reads q, k and v from
    the layers named in `from: [q, k, v]` (or one packed q|k|v tensor), each (..., seq, heads · head_dim),
    and writes (..., seq, heads · v_head_dim) for the output projection, as Hugging Face models call
    F.scaled_dot_product_attention between their q/k/v and o projections. Leading dims are batch dims."""

    heads: int = arg(REQUIRED, "int", "query heads", aka=("num_heads", "num_attention_heads"))
    kv_heads: int = arg(
        None,
        "int",
        "key/value heads (default heads); fewer: grouped-query, 1: multi-query; must divide heads",
        aka=("num_key_value_heads",),
    )
    head_dim: int = arg(None, "int", "query and key features per head (default: q's features / heads)")
    v_head_dim: int = arg(None, "int", "value features per head (default: v's features / kv_heads)")
    causal: bool = arg(False, "bool", "each position attends to itself and earlier ones", aka=("is_causal",))
    window: int = arg(
        None, "int", "sliding window: each position attends to at most this many (and caches them); 0: none", min=0
    )
    softcap: float = arg(None, "float", "logits soft-capped to ±softcap by tanh (Gemma 2)", counts=False)
    sinks: bool = arg(False, "bool", "a learned sink logit per head (gpt-oss): heads parameters")
    position: str = arg("none", "choice", "position treatment of q and k", choices=POSITIONS)
    shared_k: int = arg(
        0, "int", "k's last shared_k features: one rope key for every head (DeepSeek's decoupled rope key)", min=0
    )
    latent_cache: int = arg(
        None, "int", "elements cached per position instead of k and v (multi-head latent attention's compressed kv)"
    )
    relative_buckets: int = arg(
        0, "int", "T5's relative position bias: a table of relative_buckets × heads parameters", min=0
    )
    rotary_dim: int = arg(None, "int", "features per head that rope rotates (default head_dim; partial rotary)")
    rope_theta: float = arg(10000.0, "float", "rope's base (Llama 3: 500000, Qwen2: 1000000)", counts=False)
    rope_interleaved: bool = arg(
        False, "bool", "rope rotates pairs (2i, 2i+1) (GPT-J, Cohere), not (i, i + rotary_dim/2)", counts=False
    )
    rope_scaling: str = arg(
        "none", "choice", "rope's frequency scaling (transformers' rope_type)", choices=ROPE_SCALINGS, counts=False
    )
    rope_factor: float = arg(None, "float", "the rope scaling's factor (linear, llama3)", counts=False)
    rope_low_freq_factor: float = arg(None, "float", "llama3 rope scaling's low_freq_factor", counts=False)
    rope_high_freq_factor: float = arg(None, "float", "llama3 rope scaling's high_freq_factor", counts=False)
    rope_original_positions: int = arg(
        None, "int", "llama3 rope scaling's original_max_position_embeddings", counts=False
    )
    packing: str = arg(
        "qkv",
        "choice",
        "one packed input's layout: qkv (all q, all k, all v: GPT-2, Phi-3) or heads (q, k, v per head: GPT-NeoX)",
        choices=PACKINGS,
        counts=False,
    )
    dropout: float = arg(0.0, "float", "attention dropout", counts=False)
    scale: float = arg(None, "float", "logit scale (default 1/sqrt(head_dim))", counts=False)

    kind, torch_name, primary, arity = "attention", "F.scaled_dot_product_attention", "heads", (1, 3)
    torch_classes = {"ScaledDotProductAttention": SDPA}
    formulas = {
        "output": "(*leading, L, heads·v_head_dim)",
        "weights": "heads (sinks) + relative_buckets · heads (T5's relative position table)",
        "bias": "0",
        "macs": "Π leading · heads · L · S · (head_dim + v_head_dim) (QKᵀ and attention·V, as FlopCounterMode "
        "counts scaled_dot_product_attention; causal and window masks change no count)",
    }

    def validate(self) -> None:
        check_kv_heads(self.heads, self.kv_heads)
        if self.rotary_dim is not None and self.position != "rope":
            raise FieldError("rotary_dim", f"rotary_dim={self.rotary_dim} needs position: rope")
        if self.rotary_dim is not None and self.rotary_dim % 2:
            raise FieldError.of_value(
                "rotary_dim", f"expects an even number (rope rotates pairs), found {self.rotary_dim}"
            )
        if not 0 <= self.dropout < 1:
            raise FieldError.of_value("dropout", f"expects a probability in [0, 1), found {self.dropout}")
        if self.softcap is not None and self.softcap <= 0:
            raise FieldError.of_value("softcap", f"expects a positive number, found {self.softcap}")
        self._validate_rope()

    def _validate_rope(self) -> None:
        rope = {
            "rope_theta": self.rope_theta != 10000.0,
            "rope_interleaved": self.rope_interleaved,
            "rope_scaling": self.rope_scaling != "none",
        }
        for name, given in rope.items():
            if given and self.position != "rope":
                raise FieldError(name, f"{name} needs position: rope")
        if not 0 < self.rope_theta < math.inf:
            raise FieldError.of_value("rope_theta", f"expects a positive number, found {self.rope_theta}")
        llama3 = {
            "rope_low_freq_factor": self.rope_low_freq_factor,
            "rope_high_freq_factor": self.rope_high_freq_factor,
            "rope_original_positions": self.rope_original_positions,
        }
        needed = {"linear": {"rope_factor": self.rope_factor}, "llama3": {"rope_factor": self.rope_factor, **llama3}}
        for name, value in {"rope_factor": self.rope_factor, **llama3}.items():
            if value is not None and name not in needed.get(self.rope_scaling, {}):
                raise FieldError(name, f"{name} needs rope_scaling: llama3" + ("" if name in llama3 else " or linear"))
        for name, value in needed.get(self.rope_scaling, {}).items():
            if value is None:
                raise FieldError(name, f"rope_scaling: {self.rope_scaling} needs {name}")
            if not 0 < value < math.inf:
                raise FieldError.of_value(name, f"expects a positive number, found {value}")
        low, high = self.rope_low_freq_factor, self.rope_high_freq_factor
        if self.rope_scaling == "llama3" and high <= low:
            raise FieldError.of_value(
                "rope_high_freq_factor", f"expects more than rope_low_freq_factor ({low}), found {high}"
            )

    def _per_head(self, features, heads, given, what):
        if given is not None:
            if features != heads * given:
                raise ShapeError(
                    f"{what} must have {heads} heads × {given} = {heads * given} features, found {features}"
                )
            return given
        if features % heads:
            raise ShapeError(f"{what}'s {features} features do not split into {heads} heads")
        return features // heads

    def _dims(self, shapes):
        """(L, S, head_dim, v_head_dim, kv_heads, leading)."""
        dims = self._split(shapes)
        if self.rotary_dim is not None and self.rotary_dim > dims[2]:
            raise ShapeError(f"rotary_dim={self.rotary_dim} is more than head_dim {dims[2]}")
        return dims

    def _split(self, shapes):
        for shape in shapes:
            expect_rank(shape, tuple(range(2, 9)), "(..., seq, features)")
        kv = self.kv_heads or self.heads
        if len(shapes) == 2:
            raise ShapeError(
                "attention reads q, k and v (`from: [q, k, v]`) or one packed q|k|v tensor, found 2 inputs"
            )
        if self.packing == "heads" and len(shapes) != 1:
            raise ShapeError(f"packing: heads reads one packed q|k|v tensor, found {len(shapes)} inputs")
        if len(shapes) == 1:
            if self.packing == "heads" and (kv != self.heads or (self.v_head_dim or self.head_dim) != self.head_dim):
                raise ShapeError("packing: heads needs kv_heads equal to heads and v_head_dim equal to head_dim")
            if self.shared_k:
                raise ShapeError("shared_k needs q, k and v apart (`from: [q, k, v]`)")
            width = shapes[0][-1]
            d = self.head_dim
            if d is None:
                if self.v_head_dim is not None or width % (self.heads + 2 * kv):
                    raise ShapeError(
                        f"a packed q|k|v of {width} features does not split into {self.heads} + 2 × {kv} heads "
                        f"(give head_dim and v_head_dim)"
                    )
                d = width // (self.heads + 2 * kv)
            dv = self.v_head_dim or d
            if width != (self.heads + kv) * d + kv * dv:
                raise ShapeError(
                    f"a packed q|k|v must have {self.heads}·{d} + {kv}·{d} + {kv}·{dv} = "
                    f"{(self.heads + kv) * d + kv * dv} features, found {width}"
                )
            return shapes[0][-2], shapes[0][-2], d, dv, kv, shapes[0][:-2]
        query, key, value = shapes
        d = self._per_head(query[-1], self.heads, self.head_dim, "q")
        if self.shared_k >= d:
            raise ShapeError(f"shared_k={self.shared_k} must be less than head_dim {d}")
        if key[-1] != kv * (d - self.shared_k) + self.shared_k:
            raise ShapeError(
                f"k must have {kv} kv_heads × {d - self.shared_k} + {self.shared_k} shared = "
                f"{kv * (d - self.shared_k) + self.shared_k} features, found {fmt_shape(key)}"
            )
        dv = self._per_head(value[-1], kv, self.v_head_dim, "v")
        if key[-2] != value[-2]:
            raise ShapeError(f"k and v must have the same length, found {fmt_shape(key)} and {fmt_shape(value)}")
        if not query[:-2] == key[:-2] == value[:-2]:
            raise ShapeError(
                f"q, k and v must have the same leading dims, found {fmt_shape(query)}, {fmt_shape(key)} and "
                f"{fmt_shape(value)}"
            )
        return query[-2], key[-2], d, dv, kv, query[:-2]

    def output_shape(self, shapes: list[Shape]) -> Shape:
        length, _, _, dv, _, leading = self._dims(shapes)
        return (*leading, length, self.heads * dv)

    def params(self, shapes: list[Shape]) -> Params:
        return Params(weights=self.heads * (bool(self.sinks) + self.relative_buckets))

    def param_tensors(self, shapes: list[Shape]) -> int:
        return bool(self.sinks) + bool(self.relative_buckets)

    def macs(self, shapes: list[Shape], out: Shape) -> int:
        length, source, d, dv, _, leading = self._dims(shapes)
        return prod(leading) * self.heads * length * source * (d + dv)

    def saves(self, shapes: list[Shape], out: Shape, ctx: Context) -> Saved:
        """As scaled_dot_product_attention's backward keeps them (the kernels of MultiheadAttention.saves):
        flash its inputs, its output and the log-sum-exp per head and position; math the scaled q, k (repeated
        to every query head when grouped), the softmax output (with dropout its mask and the dropped weights)
        and a copy of v. Rope rotates q and k into new tensors kept in place of the inputs, and keeps its cos
        and sin tables once per step for every layer."""
        length, source, d, dv, kv, leading = self._dims(shapes)
        b = ctx.batch * prod(leading)
        rotated = self.position == "rope"
        rd = self.rotary_dim or d
        tables = (
            tuple((("rotary", n, rd, part), n * rd, "act") for n in sorted({length, source}) for part in ("cos", "sin"))
            if rotated
            else ()
        )
        q_new = ((b * length * self.heads * d, "act"),) if rotated else ()
        k_new = ((b * source * kv * d, "act"),) if rotated else ()
        packed = len(shapes) == 1
        if ctx.attention == "math" or len(leading) > 0:
            k_kept: tuple = ((b * source * self.heads * d, "act"),) if kv < self.heads else k_new
            weights = b * self.heads * length * source
            dropped = ((weights, "bool" if ctx.device == "cuda" else "act"), (weights, "act")) if self.dropout else ()
            k_input: tuple[int, ...] = () if kv < self.heads or rotated else (0,) if packed else (1,)
            return Saved(
                inputs=k_input,
                tensors=(
                    *k_kept,
                    (b * length * self.heads * d, "act"),
                    (weights, "act"),
                    *dropped,
                    (b * source * self.heads * dv, "act"),
                ),
                shared=tables,
            )
        return Saved(
            inputs=(0,) if packed else tuple(i for i in range(3) if not (rotated and i < 2)),
            output=True,
            tensors=(*q_new, *k_new, (b * self.heads * length, "float32")),
            shared=tables,
        )

    def kv_cache(self, shapes: list[Shape]) -> int:
        """Keys and values cached per position when decoding: kv_heads · (head_dim + v_head_dim), causal only."""
        if not self.causal:
            return 0
        _, _, d, dv, kv, leading = self._dims(shapes)
        if self.latent_cache is not None:
            return prod(leading) * self.latent_cache
        return prod(leading) * kv * (d + dv)

    def kv_cache_elements(self, shapes: list[Shape], positions: int) -> int:
        """A sliding window caches at most its window of positions."""
        return self.kv_cache(shapes) * (min(positions, self.window) if self.window else positions)

    def torch_module(self, in_shapes: list[Shape]) -> Call | None:
        """The generated ScaledDotProductAttention (SDPA, is_causal, enable_gqa, rope, a window mask); a softcap,
        sinks (a parameter) and ALiBi have no binding here."""
        for field, unbound in (
            ("softcap", self.softcap),
            ("sinks", self.sinks),
            ("alibi", self.position == "alibi"),
            ("relative_buckets", self.relative_buckets),
            ("shared_k", self.shared_k),
            (f"rope_scaling {self.rope_scaling}", self.rope_scaling not in EXPORTED_SCALINGS),
        ):
            if unbound:
                raise Unexportable(f"{self.kind} with {field}")
        _, _, d, _, kv, _ = self._dims(in_shapes)
        rotary = (self.rotary_dim or d) if self.position == "rope" else 0
        items: list = [hole(self.heads, "heads"), hole(kv, "kv_heads"), hole(d, "head_dim")]
        for name, value in (
            ("causal", self.causal),
            ("window", self.window),
            ("rotary_dim", rotary),
            ("scale", self.scale),
            ("dropout", self.dropout),
        ):
            items.append(Kw(name, Hole(q(value), name, not value)))
        if rotary:  # rope's base, layout and scaling (left out at their defaults)
            llama3 = (self.rope_low_freq_factor, self.rope_high_freq_factor, self.rope_original_positions)
            scaled = {
                "linear": self.rope_factor if self.rope_scaling == "linear" else None,
                "llama3": (self.rope_factor, *llama3) if self.rope_scaling == "llama3" else None,
            }
            for name, value, default in (
                ("theta", self.rope_theta, 10000.0),
                ("interleaved", self.rope_interleaved, False),
                *((name, value, None) for name, value in scaled.items()),
            ):
                items.append(Kw(name, Hole(q(value), name, value == default)))
        return Call("ScaledDotProductAttention", items)

    def torch_call(self, module: str, args: list[str], in_shapes: list[Shape]) -> str:
        if len(args) == 1:  # one packed q|k|v
            _, _, d, dv, kv, _ = self._dims(in_shapes)
            if self.packing == "heads":  # per head its q, k and v (GPT-NeoX)
                heads = f"{args[0]}.unflatten(-1, ({q(self.heads)}, -1)).chunk(3, -1)"
                return f"{module}(*(t.flatten(-2) for t in {heads}))"
            return f"{module}(*{args[0]}.split({q([self.heads * d, kv * d, kv * dv])}, -1))"
        return f"{module}({', '.join(args)})"

    def reach(self, shapes: list[Shape], out: Shape) -> ReachOf:
        return GLOBAL
