"""Spec -> PyTorch source: a module that imports only torch and defines `build_model()`.

Pure text generation (torch is never imported here). The module tree follows the spec's hierarchical
names, so `state_dict()` keys are the spec's names (`layer1.0.conv1.weight`): a spec written with
torchvision's names loads torchvision's weights. Each block of the spec is a class; literals that
differ between its uses become constructor arguments (named after the block's arguments where they
match), a module some uses leave out (`when:`) is optional (a flag argument), uses that differ
otherwise in structure get one class each. A repeat or group that is a plain chain is an
nn.Sequential; a repeat of blocks that also read other values an nn.ModuleList forward loops over;
else an nn.ModuleList / nn.ModuleDict whose modules forward calls. Calls are written as ruff format
writes them.

Spec text is untrusted: every value written into the code is a validated field value passed through
repr() (_q), every name is either a plain ASCII identifier or a repr()'d string, class names keep only
ASCII letters and digits, and every local variable is generated here. Nothing from a spec is ever
written into a comment.
"""

from __future__ import annotations

import keyword
import math
import re
from dataclasses import dataclass, field
from typing import Any

from .errors import SpecError
from .graph import Block, Node
from .layers.base import REQUIRED, Shape
from .layers.linear import Buffer
from .spec import Spec

# Attributes of nn.Module and nn.ModuleDict (torch 2.13): a child with one of these names cannot be
# registered (torch raises "attribute already exists"), so it is refused up front with a clear message.
RESERVED = frozenset(
    """
    T_destination add_module apply bfloat16 buffers call_super_init children clear compile cpu cuda double
    dump_patches eval extra_repr float forward get_buffer get_extra_state get_parameter get_submodule half
    ipu items keys load_state_dict modules mtia named_buffers named_children named_modules named_parameters
    parameters pop register_backward_hook register_buffer register_forward_hook register_forward_pre_hook
    register_full_backward_hook register_full_backward_pre_hook register_load_state_dict_post_hook
    register_load_state_dict_pre_hook register_module register_parameter register_state_dict_post_hook
    register_state_dict_pre_hook requires_grad_ set_extra_state set_submodule share_memory state_dict to
    to_empty train training type update values xpu zero_grad
""".split()
)

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

TORCH_DTYPES = {
    "float64": "float64",
    "double": "float64",
    "float32": "float32",
    "float": "float32",
    "float16": "float16",
    "half": "float16",
    "bfloat16": "bfloat16",
    "int8": "int8",
    "uint8": "uint8",
    "float8_e4m3fn": "float8_e4m3fn",
    "float8_e5m2": "float8_e5m2",
}


def plain(name: str) -> bool:
    """Usable as `obj.name` in generated code: ASCII (no NFKC surprises) and not a keyword."""
    return bool(_IDENTIFIER.match(name)) and not keyword.iskeyword(name)


def _q(value) -> str:
    """Python source for a literal: repr(), with strings in double quotes where that needs no escape (as
    ruff format writes them)."""
    if isinstance(value, str):
        text = str.__repr__(value)
        return f'"{text[1:-1]}"' if text[0] == "'" and '"' not in value else text
    if type(value) in (tuple, list):
        inner = ", ".join(_q(v) for v in value)
        return f"[{inner}]" if type(value) is list else f"({inner}{',' if len(value) == 1 else ''})"
    if type(value) is dict:
        return "{" + ", ".join(f"{_q(k)}: {_q(v)}" for k, v in value.items()) + "}"
    if isinstance(value, float) and not math.isfinite(value):  # repr() gives `inf`, a name in Python
        return f'float("{value!r}")'
    return repr(value)


def _r(value) -> str:
    """A validated field value as Python source; tuples of one repeated value collapse to it."""
    if isinstance(value, tuple):
        if value and len(set(value)) == 1 and None not in value:
            return _q(value[0])
        return _q(value)
    return _q(value)


# ---------------------------------------------------------------- generated expressions


@dataclass(eq=False)
class Hole:
    """A literal in a constructor call (source text, from repr()). Where a block is used several times
    and the literal differs between uses, it becomes an argument of the block's class."""

    value: str
    label: str  # the argument's name if it becomes one (torch's name for the field)
    default: bool = False  # a keyword argument at its default: left out where every use has it
    where: str = ""  # the attribute it builds, for the argument's name


@dataclass(eq=False)
class Kw:
    key: str  # an identifier written by this module
    value: Expr


@dataclass(eq=False)
class Pair:
    key: str  # a repr()'d string
    value: Expr


@dataclass(eq=False)
class Call:
    """`func(items)`; with brackets "[]" or "{}" and no func, a list or dict literal. `runs`: runs of
    equal items are written `*[item for _ in range(n)]` (the children of a repeat)."""

    func: Any  # its text: a str, or a _ClassName
    items: list
    brackets: str = "()"
    runs: bool = False


@dataclass(eq=False)
class Star:
    item: Expr
    count: int


Expr = str | Hole | Kw | Pair | Call | Star
LINE = 120  # ruff format's line length in this project, and the generated code's


def _hole(value, label: str) -> Hole:
    return Hole(_q(value), label)


# ---------------------------------------------------------------- kinds -> torch

# fields never passed: inferred sizes (passed positionally from the input), and ignored ones
SKIPPED = {
    "in_channels",
    "in_features",
    "num_features",
    "embed_dim",
    "d_model",
    "input_size",
    "num_channels",
    "device",
    "batch_first",
    "rotary",  # paramcalc's own (RoPE has no parameters): nn.MultiheadAttention takes no such argument
}


def _kwargs(layer, first: tuple[str, ...] = ()) -> list[Kw]:
    """`key=value` for every field (positional `first` fields excluded); one at its default is marked so,
    and left out unless another use of the same block sets it."""
    out = []
    defaults = layer.defaults()
    for name in layer.fields():
        if name in SKIPPED or name in first:
            continue
        value = getattr(layer, name)
        default = defaults[name]
        at_default = default is not REQUIRED and value == _normal(default, value)
        aka = layer.fields()[name].aka  # a field's first synonym is PyTorch's name for it
        key = aka[0] if aka else name
        if name == "dtype":
            text = f"torch.{TORCH_DTYPES[value]}" if value else "None"
        elif isinstance(value, tuple) and name in ("shape", "sizes", "scale", "size", "out") and None not in value:
            text = _q(value)
        else:
            text = _r(value)
        out.append(Kw(key, Hole(text, key, at_default)))
    return out


def _normal(default, value):
    """A default as the coerced field would hold it (an int default of a per-dimension field is a tuple)."""
    if isinstance(value, tuple) and not isinstance(default, tuple) and default is not None:
        return (default,) * len(value)
    return default


def _call(cls: str, positional: list, kwargs: list) -> Call:
    return Call(f"nn.{cls}", [*positional, *kwargs])


class _Unexportable(Exception):
    pass


BATCH_FIRST = Kw("batch_first", "True")


def construct(layer, in_shapes: list[Shape]) -> Call | None:
    """The nn.Module constructor call for a layer, or None for a kind that is a torch operation in forward."""
    kind, tn = layer.kind, getattr(layer, "torch_name", "")
    first: Shape = in_shapes[0] if in_shapes else ()  # read only by kinds that have an input
    if kind.startswith(("conv", "convtranspose")):
        sizes = [_hole(first[0], "in_channels"), _hole(layer.out, "out_channels")]
        return _call(tn, sizes, _kwargs(layer, ("out",)))
    if kind == "linear":
        sizes = [_hole(first[-1], "in_features"), _hole(layer.out, "out_features")]
        return _call(tn, sizes, _kwargs(layer, ("out",)))
    if kind in ("embedding", "embeddingbag"):
        sizes = [_hole(layer.num, "num_embeddings"), _hole(layer.dim, "embedding_dim")]
        return _call(tn, sizes, _kwargs(layer, ("num", "dim")))
    if kind.startswith(("batchnorm", "instancenorm")):
        return _call(tn, [_hole(first[0], "num_features")], _kwargs(layer))
    if kind in ("layernorm", "rmsnorm"):
        shape = layer.shape if layer.shape is not None else (first[-1],)
        return _call(tn, [_hole(list(shape), "normalized_shape")], _kwargs(layer, ("shape",)))
    if kind == "groupnorm":
        return _call(
            tn, [_hole(layer.groups, "num_groups"), _hole(first[0], "num_channels")], _kwargs(layer, ("groups",))
        )
    if kind == "layernorm2d":
        return Call("LayerNorm2d", [_hole(first[0], "channels"), *_kwargs(layer, ("channels",))])
    if kind == "multiheadattention":
        if not projected_attention(layer, in_shapes):
            sizes = [_hole(first[-1], "embed_dim"), _hole(layer.heads, "num_heads")]
            return _call(tn, sizes, [*_kwargs(layer, ("heads",)), BATCH_FIRST])
        return attention_module(layer, in_shapes)
    if kind in ("transformerencoderlayer", "transformerdecoderlayer"):
        sizes = [_hole(first[-1], "d_model"), _hole(layer.heads, "nhead")]
        return _call(tn, sizes, [*_kwargs(layer, ("heads",)), BATCH_FIRST])
    if kind in ("rnn", "lstm", "gru"):
        sizes = [_hole(first[-1], "input_size"), _hole(layer.hidden, "hidden_size")]
        return _call(tn, sizes, [*_kwargs(layer, ("hidden",)), BATCH_FIRST])
    if kind.startswith(("maxpool", "avgpool")):
        return _call(tn, [Hole(_r(layer.kernel), "kernel_size")], _kwargs(layer, ("kernel",)))
    if kind.startswith("adaptive"):
        out = layer.out
        value = _q(out[0]) if len(set(out)) == 1 and None not in out else _q(out)
        return _call(tn, [Hole(value, "output_size")], _kwargs(layer, ("out",)))
    if kind in ("parameter", "buffer"):
        return None
    if kind in ("upsample", "upsamplingnearest2d", "upsamplingbilinear2d"):
        if layer.size is not None:
            args = [Kw("size", _hole(layer.size, "size"))]
        else:
            args = [Kw("scale_factor", _hole(layer.scale, "scale_factor"))]
        if kind == "upsample":
            args += _kwargs(layer, ("size", "scale"))
        return _call(tn, [], args)
    if kind == "channelshuffle":
        return _call("ChannelShuffle", [_hole(layer.groups, "groups")], [])
    if kind in ("unflatten",):
        return _call(tn, [_hole(layer.dim, "dim"), _hole(layer.sizes, "unflattened_size")], [])
    if kind == "stochasticdepth":
        return Call("StochasticDepth", [_hole(layer.p, "p"), _hole(layer.mode, "mode")])
    if kind in FUNCTIONAL:
        return None
    if not tn or "." in tn:
        raise _Unexportable(kind)
    return _call(tn, [], _kwargs(layer))  # activations, dropouts, flatten, identity, pads, pixel shuffles


def _has(layer, bias) -> bool:
    return layer.bias if bias is None else bias


def projected_attention(layer, in_shapes) -> bool:
    """True where nn.MultiheadAttention cannot hold the layer (the layer says: grouped-query heads, a
    head_dim, per-projection biases or leading dims before (seq, E))."""
    return layer.projected(in_shapes)


def attention_module(layer, in_shapes) -> Call:
    """The generated Attention (q/k/v/out linears, scaled_dot_product_attention) for a layer."""
    query, key, value = (in_shapes * 3)[:3] if len(in_shapes) == 1 else (in_shapes[0], in_shapes[1], in_shapes[-1])
    e = query[-1]
    head_dim = layer.head_dim if layer.head_dim is not None else e // layer.heads
    items: list = [
        _hole(e, "embed_dim"),
        _hole(layer.heads, "heads"),
        Kw("kv_heads", _hole(layer.kv_heads or layer.heads, "kv_heads")),
        Kw("head_dim", _hole(head_dim, "head_dim")),
        Kw("kdim", _hole(key[-1], "kdim")),
        Kw("vdim", _hole(value[-1], "vdim")),
    ]
    items += [
        Kw(name, _hole(_has(layer, getattr(layer, name)), name)) for name in ("q_bias", "k_bias", "v_bias", "out_bias")
    ]
    items.append(Kw("add_bias_kv", Hole(_q(bool(layer.add_bias_kv)), "add_bias_kv", not layer.add_bias_kv)))
    items.append(Kw("add_zero_attn", Hole(_q(bool(layer.add_zero_attn)), "add_zero_attn", not layer.add_zero_attn)))
    items.append(Kw("dropout", Hole(_q(layer.dropout or 0.0), "dropout", not layer.dropout)))
    dtype = f"torch.{TORCH_DTYPES[layer.dtype]}" if layer.dtype else "None"
    items.append(Kw("dtype", Hole(dtype, "dtype", not layer.dtype)))
    return Call("Attention", items)


def _dims(values) -> str:
    return _q(tuple(values)) if len(values) != 1 else _q(values[0])


def _torch_dim(i: int) -> int:
    """A per-sample dim index -> the batched tensor's dim."""
    return i + 1


def functional(layer, args: list[str], in_shapes, out_shape) -> str:
    """The forward expression of a kind that is a torch operation."""
    kind, x = layer.kind, args[0] if args else ""
    if kind == "add":
        return " + ".join(args)
    if kind == "mul":
        return " * ".join(args)
    if kind == "scale":
        return f"{x} * {layer.by!r}"
    if kind == "concat":
        return f"torch.cat([{', '.join(args)}], dim={_q(layer.dim)})"
    if kind == "split":
        size = list(layer.size) if isinstance(layer.size, tuple) else layer.size
        return f"torch.split({x}, {_q(size)}, dim={_q(layer.dim)})[{_q(layer.index)}]"
    if kind == "chunk":
        return f"torch.chunk({x}, {_q(layer.chunks)}, dim={_q(layer.dim)})[{_q(layer.index)}]"
    if kind == "mean":
        return f"{x}.mean(dim={_dims(layer.dim)}, keepdim={_q(layer.keepdim)})"
    if kind in ("reshape", "view"):
        method = "reshape" if kind == "reshape" else "view"
        return f"{x}.{method}({x}.shape[0], {', '.join(_q(s) for s in out_shape)})"
    if kind == "permute":
        return f"{x}.permute({', '.join(_q(d) for d in layer.dims)})"
    if kind == "transpose":
        return f"{x}.transpose({_q(layer.dim0)}, {_q(layer.dim1)})"
    if kind == "squeeze":
        shape = in_shapes[0]
        if layer.dim is None:
            drop = [i for i, s in enumerate(shape) if s == 1]
        else:
            from .layers.base import normalize_dim

            drop = sorted({d for d in (normalize_dim(v, shape) for v in layer.dim) if shape[d] == 1})
        if not drop:
            return x
        return f"{x}.squeeze({_dims([_torch_dim(d) for d in drop])})"
    if kind == "unsqueeze":
        return f"{x}.unsqueeze({_q(layer.dim)})"
    if kind == "select":
        return f"{x}.select({_q(layer.dim)}, {_q(layer.index)})"
    if kind in ("matmul", "bmm"):  # matmul for bmm too: a parameter's batch of 1 broadcasts
        return f"torch.matmul({args[0]}, {args[1]})"
    raise _Unexportable(kind)


FUNCTIONAL = {
    "add",
    "mul",
    "scale",
    "concat",
    "split",
    "chunk",
    "mean",
    "reshape",
    "view",
    "permute",
    "transpose",
    "squeeze",
    "unsqueeze",
    "select",
    "matmul",
    "bmm",
}

STOCHASTIC_DEPTH = '''

class StochasticDepth(nn.Module):
    """torchvision.ops.StochasticDepth: drops whole samples ("row") or the batch ("batch") of a residual
    branch while training."""

    def __init__(self, p, mode):
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        size = [x.shape[0]] + [1] * (x.ndim - 1) if self.mode == "row" else [1] * x.ndim
        noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival)
        return x * noise.div_(survival) if survival > 0.0 else x * noise
'''

LAYER_NORM_2D = '''

class LayerNorm2d(nn.LayerNorm):
    """torchvision.models.convnext.LayerNorm2d: LayerNorm over the channels at each position."""

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)
'''

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


NAMED_SEQUENTIAL = '''

def named_sequential(children):
    """nn.Sequential whose children have the given names, in order (nn.Sequential takes an OrderedDict)."""
    sequential = nn.Sequential()
    for name, module in children.items():
        sequential.add_module(name, module)
    return sequential
'''

HELPERS = {"LayerNorm2d": LAYER_NORM_2D, "Attention": ATTENTION, "StochasticDepth": STOCHASTIC_DEPTH}
# Names the generated code reads (its module-level names, the builtins it calls, the comprehension's
# `_`): no local variable or constructor argument takes one.
GLOBALS = frozenset(
    {
        "self",
        "torch",
        "nn",
        "build_model",
        "example_inputs",
        "named_sequential",
        "super",
        "getattr",
        "float",
        "range",
        "_",
    }
)


# ---------------------------------------------------------------- writing expressions


def _visible(call: Call, sub) -> list:
    """A call's items as written: keyword arguments at their default left out, runs of equal items starred."""
    items = [i for i in call.items if not (isinstance(i, Kw) and isinstance(i.value, Hole) and sub(i.value) is None)]
    if not call.runs:
        return items
    out: list = []
    texts = [_flat(i, sub) for i in items]
    i = 0
    while i < len(items):
        j = i
        while j < len(items) and texts[j] == texts[i]:
            j += 1
        out += [Star(items[i], j - i)] if j - i >= 3 else items[i:j]
        i = j
    return out


def _flat(e, sub) -> str:
    """An expression on one line; `sub` gives each hole's text (None: left out)."""
    if isinstance(e, str):
        return e
    if isinstance(e, Hole):
        return sub(e)
    if isinstance(e, Kw):
        return f"{e.key}={_flat(e.value, sub)}"
    if isinstance(e, Pair):
        return f"{e.key}: {_flat(e.value, sub)}"
    if isinstance(e, Star):
        return f"*[{_flat(e.item, sub)} for _ in range({e.count})]"
    items = _visible(e, sub)
    if _comprehension(e, items):  # [Block() for _ in range(3)], not [*[...]]
        return _flat(items[0], sub)[1:]
    inner = ", ".join(_flat(i, sub) for i in items)
    return f"{e.func}{e.brackets[0]}{inner}{e.brackets[1]}"


def _comprehension(e: Call, items: list) -> bool:
    return e.brackets == "[]" and not e.func and len(items) == 1 and isinstance(items[0], Star)


def _lines(e, indent: str, head: str, tail: str, sub) -> list[str]:
    """An expression as ruff format writes it: on one line if it fits, else its brackets split, the
    items on one line inside if they fit, else one a line with a trailing comma."""
    one = f"{indent}{head}{_flat(e, sub)}{tail}"
    if len(one) <= LINE or isinstance(e, (str, Hole)):
        return [one]
    if isinstance(e, Kw):
        return _lines(e.value, indent, f"{head}{e.key}=", tail, sub)
    if isinstance(e, Pair):
        return _lines(e.value, indent, f"{head}{e.key}: ", tail, sub)
    inner = indent + "    "
    if isinstance(e, Star):
        item = _lines(e.item, inner, "", "", sub)
        return [f"{indent}{head}*[", *item, f"{inner}for _ in range({e.count})", f"{indent}]{tail}"]
    items = _visible(e, sub)
    if _comprehension(e, items):
        return [
            f"{indent}{head}[",
            *_lines(items[0].item, inner, "", "", sub),
            f"{inner}for _ in range({items[0].count})",
            f"{indent}]{tail}",
        ]
    opening, closing = f"{indent}{head}{e.func}{e.brackets[0]}", f"{indent}{e.brackets[1]}{tail}"
    together = inner + ", ".join(_flat(i, sub) for i in items)
    if len(together) <= LINE:
        return [opening, together, closing]
    if len(items) == 1 and isinstance(items[0], Call):
        return [opening, *_lines(items[0], inner, "", "", sub), closing]
    lines = [opening]
    for item in items:
        lines += _lines(item, inner, "", ",", sub)
    return [*lines, closing]


def _wrap(line: str, indent: str, tail: str = "") -> list[str]:
    """A generated statement as ruff format writes it: too long, its last bracket pair split (the
    contents on one line if they fit, else one item a line, each split the same way)."""
    if len(indent) + len(line) + len(tail) <= LINE or line[-1:] not in ")]}":
        return [indent + line + tail]
    if line.startswith(" "):  # a loop's body
        return _wrap(line.lstrip(" "), indent + " " * (len(line) - len(line.lstrip(" "))), tail)
    import io
    import tokenize

    tokens = [t for t in tokenize.generate_tokens(io.StringIO(line).readline) if t.type == tokenize.OP]
    depth, commas, opening = 0, [], None
    for token in reversed(tokens):
        if token.string in ")]}":
            depth += 1
        elif token.string in "([{":
            depth -= 1
            if depth == 0:
                opening = token.start[1]
                break
        elif token.string == "," and depth == 1:
            commas.append(token.start[1])
    if opening is None:
        return [indent + line + tail]
    head, inner, more = line[: opening + 1], line[opening + 1 : -1], indent + "    "
    if len(more) + len(inner) <= LINE:
        return [indent + head, more + inner, indent + line[-1] + tail]
    bounds = [opening, *sorted(commas), len(line) - 1]
    items = [line[a + 1 : b].strip() for a, b in zip(bounds, bounds[1:])]
    if len(items) == 1:
        return [indent + head, *_wrap(items[0], more), indent + line[-1] + tail]
    return [indent + head, *(w for item in items for w in _wrap(item, more, ",")), indent + line[-1] + tail]


def _holes(e):
    if isinstance(e, Hole):
        yield e
    elif isinstance(e, (Kw, Pair)):
        yield from _holes(e.value)
    elif isinstance(e, Star):
        yield from _holes(e.item)
    elif isinstance(e, Call):
        for item in e.items:
            yield from _holes(item)


def _literal(hole: Hole) -> str | None:
    return None if hole.default else hole.value


# ---------------------------------------------------------------- the module tree and forward


def _refuse(message: str, node=None) -> SpecError:
    return SpecError(
        f"cannot export to PyTorch: {message}", node.loc if node else None, layer=node.label if node else None
    )


def _identifier(text: str, fallback: str) -> str:
    """A Python identifier from any text (ASCII letters, digits and _)."""
    base = re.sub(r"\W|^(?=\d)", "_", text.replace(".", "_"), flags=re.ASCII) or fallback
    return base if plain(base) else base + "_"


def _camel(text: str, fallback: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", text, flags=re.ASCII)
    name = "".join(w[:1].upper() + w[1:] for w in words)[:60] or fallback
    return fallback + name if name[0].isdigit() else name


@dataclass(eq=False)
class _Mod:
    """A module of the exported tree: a leaf layer, or a container named by a prefix of the spec's
    hierarchical names. mode: leaf; class (a block's use, a class of its own); sequential (a plain
    chain: nn.Sequential); list / dict (nn.ModuleList / nn.ModuleDict, whose children the owning
    class's forward calls one by one); root (the network)."""

    name: str
    parts: tuple[str, ...]
    node: Node | None = None
    children: dict[str, _Mod] = field(default_factory=dict)
    mode: str = "leaf"
    indices: list[int] = field(default_factory=list)  # of its leaves, in execution order
    inputs: list[str] = field(default_factory=list)  # values it reads from outside, in order of first read
    outputs: list[str] = field(default_factory=list)  # its values read outside (or network outputs)
    block: Block | None = None
    group: int = -1  # class mode: its class (an index into _Writer.classes)
    values: list[str] = field(default_factory=list)  # class mode: its constructor arguments' values


class _ClassName:
    """A class's name where it is used, known once every class is (a placeholder until then)."""

    def __init__(self, classes: list[_Class], index: int):
        self.classes, self.index = classes, index

    def __str__(self) -> str:
        return self.classes[self.index].name or f"\x01{self.index}\x01"


@dataclass(eq=False)
class _Body:
    """A class's __init__ statements (expressions with holes) and forward, for one module."""

    init: list[tuple[str, Any]]  # (attribute, constructor) or ("", a statement)
    forward: list[str]  # a shape hole (holes[in_init:]) is written \x02index\x02
    signature: str
    holes: list[Hole] = field(default_factory=list)
    in_init: int = 0


@dataclass(eq=False)
class _Class:
    definition: str
    members: list[_Mod]
    body: _Body
    name: str = ""
    params: list[str] = field(default_factory=list)
    subs: list[str | None] = field(default_factory=list)  # each hole's text in the class
    optional: dict[str, list[bool]] = field(default_factory=dict)  # attribute: whether each use has it
    flags: dict[str, str] = field(default_factory=dict)  # attribute: the argument that says so


class _Writer:
    def __init__(self, spec: Spec):
        from .analysis import Analysis

        self.analysis = Analysis.of(spec)  # validates the spec: shapes chain, fields are valid
        self.spec, self.graph, self.shapes = spec, self.analysis.graph, self.analysis.shapes
        self.leaves = {node.name for node in self.graph.nodes}
        self.kinds = {node.name: node.kind for node in self.graph.nodes}
        self.helpers: set[str] = set()  # generated module classes the code uses
        self.uses_named = False
        self.sources: dict[str, Call | None] = {}
        self.readers: dict[str, list[int]] = {}
        for node in self.graph.nodes:
            for name in node.inputs:
                self.readers.setdefault(name, []).append(node.index)
        self.network_outputs = set(self.graph.outputs)
        self.by_name: dict[str, _Mod] = {}
        self.classes: list[_Class] = []
        self.root = self.tree()

    # -- the tree

    def path(self, name: str, node) -> list[str]:
        parts = name.split(".")
        for part in parts:
            if not part:
                raise _refuse(f"the name {name!r} has an empty part between dots", node)
            if part in RESERVED or part.startswith("__"):
                raise _refuse(f"the name {name!r} uses {part!r}, an attribute of torch.nn.Module; rename it", node)
        for i in range(1, len(parts)):
            prefix = ".".join(parts[:i])
            if prefix in self.leaves:
                raise _refuse(f"the name {name!r} would live inside layer {prefix!r}; rename one of them", node)
        return parts

    def tree(self) -> _Mod:
        root = _Mod("", (), mode="root")
        for node in self.graph.nodes:
            parts = self.path(node.name, node)
            try:
                source = construct(node.layer, [self.shapes[n] for n in node.inputs])
            except _Unexportable:
                raise _refuse(f"kind '{node.kind}' has no PyTorch equivalent here", node) from None
            self.sources[node.name] = source
            if source is not None and source.func in HELPERS:
                self.helpers.add(source.func)
            mod = root
            for i, part in enumerate(parts[:-1]):
                mod = mod.children.setdefault(part, _Mod(".".join(parts[: i + 1]), tuple(parts[: i + 1]), mode=""))
            if parts[-1] in mod.children:
                raise _refuse(f"the name {node.name!r} is both a layer and a group of layers; rename one", node)
            mod.children[parts[-1]] = leaf = _Mod(node.name, tuple(parts), node=node)
            self.by_name[node.name] = leaf
        blocks = {b.name: b for b in self.graph.blocks if b.end > b.start}
        self.settle(root, blocks)
        return root

    def settle(self, mod: _Mod, blocks: dict[str, Block]):
        """Post-order: each module's leaves, inputs and outputs, then what it becomes."""
        if mod.node is not None:
            mod.indices = [mod.node.index]
        else:
            for child in mod.children.values():
                self.settle(child, blocks)
            mod.indices = sorted(i for child in mod.children.values() for i in child.indices)
        nodes = self.graph.nodes
        inside = {nodes[i].name for i in mod.indices}
        where = set(mod.indices)
        for i in mod.indices:
            for name in nodes[i].inputs:
                if name not in inside and name not in mod.inputs:
                    mod.inputs.append(name)
        mod.outputs = [
            nodes[i].name
            for i in mod.indices
            if nodes[i].name in self.network_outputs or any(r not in where for r in self.readers.get(nodes[i].name, ()))
        ]
        if mod.mode in ("leaf", "root"):
            return
        contiguous = mod.indices[-1] - mod.indices[0] + 1 == len(mod.indices)
        block = blocks.get(mod.name)
        if (
            block is not None
            and block.args is not None
            and block.kind in self.spec.blocks
            and (block.start, block.end) == (mod.indices[0], mod.indices[-1] + 1)
        ):
            mod.mode, mod.block = "class", block
        elif contiguous and self.chain(mod):
            mod.mode = "sequential"
        elif list(mod.children) == [str(i) for i in range(len(mod.children))] and not any(
            c.node is not None and self.sources[c.name] is None for c in mod.children.values()
        ):
            mod.mode = "list"
        else:
            mod.mode = "dict"

    def flow(self, mod: _Mod) -> tuple[list[str], list[str]] | None:
        """(inputs, outputs) of a module called as one, taking one input: a torch module, a class, a chain."""
        if mod.node is not None:
            node = mod.node
            plain_call = self.sources[node.name] is not None and len(node.inputs) == 1
            if not plain_call or node.kind in ("multiheadattention", "rnn", "lstm", "gru"):
                return None
            if getattr(node.layer, "return_indices", False):
                return None
            return node.inputs, [node.name]
        if mod.mode in ("class", "sequential"):
            return mod.inputs, mod.outputs or [self.graph.nodes[mod.indices[-1]].name]
        return None

    def chain(self, mod: _Mod) -> bool:
        """Each child reads only the one before it (the first, the module's one input); only the last
        is read outside."""
        if len(mod.inputs) != 1:
            return False
        current = mod.inputs[0]
        for child in mod.children.values():
            io = self.flow(child)
            if io is None or io[0] != [current] or len(io[1]) != 1:
                return False
            current = io[1][0]
        return set(mod.outputs) <= {current}

    # -- classes: one per block of the spec (per structure of its uses), arguments where uses differ

    def write(self) -> str:
        classes = [m for m in self.walk(self.root) if m.mode == "class"]
        levels = self.levels(classes)
        for level in sorted(set(levels.values())):
            groups: dict[tuple[str, str], _Class] = {}
            bodies: dict[int, _Body] = {}
            for mod in classes:
                if levels[id(mod)] != level:
                    continue
                assert mod.block is not None
                body = bodies[id(mod)] = self.body(mod)
                key = (mod.block.kind, "\n".join([*self.skeleton(body), *body.forward, body.signature]))
                if key not in groups:
                    groups[key] = _Class(mod.block.kind, [], body)
                groups[key].members.append(mod)
            holes: dict[int, list[list[Hole | None]]] = {
                id(c): [list(bodies[id(m)].holes) for m in c.members] for c in groups.values()
            }
            kept = self.merge(list(groups.values()), holes)
            for cls in kept:
                self.classes.append(cls)
                for mod in cls.members:
                    mod.group = len(self.classes) - 1
                self.parameterise(cls, holes[id(cls)])
        return self.render()

    def levels(self, classes: list[_Mod]) -> dict[int, int]:
        """The order classes are written in: nested ones first. Every use of a block on one level (the
        uses are compared, to find what differs), unless blocks nest each other both ways."""
        heights: dict[int, int] = {}
        for mod in reversed(classes):  # a pre-order walk reversed: nested classes first
            inner = [heights[id(c)] for c in self.walk(mod) if c is not mod and c.mode == "class"]
            heights[id(mod)] = 1 + max(inner, default=-1)
        per_block: dict[str, int] = {}
        for mod in classes:
            assert mod.block is not None
            per_block[mod.block.kind] = max(per_block.get(mod.block.kind, 0), heights[id(mod)])
        levels = {id(m): per_block[m.block.kind] for m in classes if m.block is not None}
        for mod in classes:
            for inner in self.walk(mod):
                if inner is not mod and inner.mode == "class" and levels[id(inner)] >= levels[id(mod)]:
                    return heights
        return levels

    def skeleton(self, body: _Body) -> list[str]:
        index = {id(h): i for i, h in enumerate(body.holes)}
        return self.init_lines(body, lambda h: f"\x00{index[id(h)]}\x00")

    def merge(self, classes: list[_Class], holes: dict[int, list[list[Hole | None]]]) -> list[_Class]:
        """Uses of a block whose structure is another's without some modules (a `when:` dropped them)
        join its class, where those modules are optional: built when a flag argument says so, called
        when they exist. Returns the classes left."""
        kept = list(classes)
        for small in sorted(classes, key=lambda c: len(c.body.init)):
            for large in sorted(kept, key=lambda c: -len(c.body.init)):
                if large is small or large.definition != small.definition or small.optional:
                    continue
                found = self.fits(small.body, large)
                if found is None:
                    continue
                flags, positions = found
                for attribute in flags:
                    large.optional.setdefault(attribute, [True] * len(large.members))
                for attribute in large.optional:
                    large.optional[attribute] += [attribute not in flags] * len(small.members)
                for member_holes in holes[id(small)]:
                    aligned: list[Hole | None] = [None] * len(large.body.holes)
                    for hole, position in zip(member_holes, positions):
                        aligned[position] = hole
                    holes[id(large)].append(aligned)
                large.members += small.members
                kept.remove(small)
                break
        return kept

    def fits(self, body: _Body, cls: _Class) -> tuple[list[str], list[int]] | None:
        """(the attributes `body` lacks, where each of its holes is in cls's) if body is cls's structure
        without some modules, else None."""
        large = cls.body
        if body.signature != large.signature or len(body.holes) - body.in_init != len(large.holes) - large.in_init:
            return None
        missing: list[str] = []
        positions: list[int] = []
        j = hole = 0
        for attribute, e in large.init:
            count = len(list(_holes(e)))
            if (
                j < len(body.init)
                and body.init[j][0] == attribute
                and _flat(e, lambda h: "?") == _flat(body.init[j][1], lambda h: "?")
            ):
                positions += range(hole, hole + count)
                j += 1
            elif plain(attribute) and all(a != attribute for a, _ in body.init):
                missing.append(attribute)
            else:
                return None
            hole += count
        if j != len(body.init) or not missing:
            return None
        calls = [line for line in large.forward if self.optional_call(line, missing)]
        if len(calls) != len(missing) or [line for line in large.forward if line not in calls] != body.forward:
            return None
        return missing, positions + list(range(large.in_init, len(large.holes)))

    @staticmethod
    def optional_call(line: str, attributes) -> str | None:
        """The attribute an `x = self.ATTRIBUTE(x)` line calls, if it is one of `attributes`."""
        match = re.fullmatch(r"(\w+) = self\.(\w+)\((\w+)\)", line)
        return match.group(2) if match and match.group(1) == match.group(3) and match.group(2) in attributes else None

    def walk(self, mod: _Mod):
        yield mod
        for child in mod.children.values():
            yield from self.walk(child)

    def parameterise(self, cls: _Class, holes: list[list[Hole | None]]):
        """Literals equal in every use stay literals; the others become constructor arguments, named
        after the block's argument they equal (or are a multiple of), else after the field. A use
        without an optional module has none of its literals (None)."""
        args = [m.block.args or {} for m in cls.members if m.block is not None]
        params: dict[str, list[str]] = {}
        by_values: dict[tuple[str | None, ...], str] = {}
        for i, hole in enumerate(cls.body.holes):
            column = [h[i] for h in holes]
            present = [h for h in column if h is not None]
            values = [h.value if h is not None else None for h in column]
            if all(h.default for h in present):
                cls.subs.append(None)
                continue
            if len({h.value for h in present}) == 1:
                cls.subs.append(present[0].value)
                continue
            expression = self.from_args(values, args, params)
            if expression is None and None in values:  # an argument that agrees where this use has one
                agree = (n for n, t in params.items() if all(v in (None, w) for v, w in zip(values, t)))
                expression = next(agree, None)
            if expression is None:
                key = tuple(values)
                if key not in by_values:
                    by_values[key] = self.unique(hole, params)
                    params[by_values[key]] = [v if v is not None else "None" for v in values]
                expression = by_values[key]
            cls.subs.append(expression)
        for attribute, has in cls.optional.items():
            cls.flags[attribute] = name = self.unique(Hole("", attribute), params)
            params[name] = [repr(h) for h in has]
        for name, texts in list(params.items()):  # [96] where another argument is 96: [channels]
            inner = [v[1:-1] for v in texts if v[:1] + v[-1:] == "[]"]
            other = next((n for n, t in params.items() if t == inner), None) if len(inner) == len(texts) else None
            if other is not None:
                cls.subs = [f"[{other}]" if sub == name else sub for sub in cls.subs]
                del params[name]
        cls.params = list(params)
        for j, member in enumerate(cls.members):
            member.values = [params[p][j] for p in cls.params]

    @staticmethod
    def from_args(values: list[str | None], args: list[dict], params: dict[str, list[str]]) -> str | None:
        """`name` or `name * k` for a block argument whose values give these (where a use has one), else None."""
        for name in args[0]:
            if not plain(name) or name in GLOBALS or name[0].isupper():
                continue
            given = [a.get(name) for a in args]
            if not all(type(v) in (int, float, str, bool) for v in given):
                continue
            texts = [_q(v) for v in given]
            if name in params and params[name] != texts:
                continue
            pairs = [(v, t, g) for v, t, g in zip(values, texts, given) if v is not None]
            if all(v == t for v, t, _ in pairs):
                params[name] = texts
                return name
            if all(type(g) is int and g > 0 and re.fullmatch(r"\d+", v) for v, _, g in pairs):
                ratios = {int(v) // g if int(v) % g == 0 else 0 for v, _, g in pairs if g}
                if len(ratios) == 1 and (k := ratios.pop()) > 1:
                    params[name] = texts
                    return f"{name} * {k}"
        return None

    @staticmethod
    def unique(hole: Hole, taken) -> str:
        """An argument's name: the field's (out_channels), else with the attribute's (conv2_out_channels)."""
        base = _identifier(hole.label, "arg")
        if base in taken and hole.where:
            base = _identifier(f"{hole.where}_{hole.label}", "arg")
        base = base if base not in GLOBALS and not base[0].isupper() else f"{base.lower()}_"
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        return name

    # -- a class's body

    def body(self, owner: _Mod) -> _Body:
        init: list[tuple[str, Any]] = []
        for part, child in owner.children.items():
            self.init(owner, part, child, init)
        self.shape_holes: list[Hole] = []
        forward, signature = self.forward(owner)
        holes = []
        for attribute, e in init:
            for hole in _holes(e):
                hole.where = attribute
                holes.append(hole)
        return _Body(init, forward, signature, holes + self.shape_holes, len(holes))

    def init(self, owner: _Mod, part: str, child: _Mod, init: list):
        """The statements that build `child` in `owner`'s __init__."""
        if child.node is not None and self.sources[child.name] is None:
            if child.node.kind in ("parameter", "buffer"):
                init.append(("", self.tensor(owner, child)))
            return
        init.append((part, self.constructor(child)))
        if child.mode in ("list", "dict"):  # its tensors, registered on it once it exists
            init += [("", self.tensor(owner, leaf)) for leaf in self.tensors(child)]

    def tensors(self, mod: _Mod):
        """The parameters and buffers in a list or dict (not those a class or chain in it holds)."""
        for child in mod.children.values():
            if child.node is not None and child.node.kind in ("parameter", "buffer"):
                yield child
            elif child.mode in ("list", "dict"):
                yield from self.tensors(child)

    def modules(self, mod: _Mod) -> list[tuple[str, _Mod]]:
        """A container's children that are modules (not tensors or torch operations), in order."""
        return [(p, c) for p, c in mod.children.items() if c.node is None or self.sources[c.name] is not None]

    def constructor(self, mod: _Mod):
        if mod.node is not None:
            source = self.sources[mod.name]
            assert source is not None
            return source
        if mod.mode == "class":
            cls = self.classes[mod.group]
            return Call(
                _ClassName(self.classes, mod.group), [Kw(p, Hole(v, p)) for p, v in zip(cls.params, mod.values)]
            )
        modules = self.modules(mod)
        items = [self.constructor(c) for _, c in modules]
        names = [part for part, _ in modules]
        if mod.mode == "list":
            return Call("nn.ModuleList", [Call("", items, "[]", runs=True)])
        if mod.mode == "sequential" and names == [str(i) for i in range(len(names))]:
            return Call("nn.Sequential", items, runs=True)
        pairs = [Pair(_q(name), item) for name, item in zip(names, items)]
        if mod.mode == "sequential":
            self.uses_named = True
            return Call("named_sequential", [Call("", pairs, "{}")])
        return Call("nn.ModuleDict", [Call("", pairs, "{}")])

    def tensor(self, owner: _Mod, mod: _Mod) -> Call:
        """`register_parameter(...)` or `register_buffer(...)` for a parameter or buffer layer, on its parent."""
        node = mod.node
        assert node is not None
        layer, name, parent = node.layer, _q(mod.parts[-1]), self.access(owner, mod.parts[:-1])
        if node.kind == "parameter":
            sizes: list = [_hole(size, "size") for size in (1, *self.shapes[node.name])]
            if layer.dtype:
                sizes.append(Kw("dtype", f"torch.{TORCH_DTYPES[layer.dtype]}"))
            grad = [] if layer.requires_grad else [Kw("requires_grad", "False")]
            return Call(
                f"{parent}.register_parameter", [name, Call("nn.Parameter", [Call("torch.zeros", sizes), *grad])]
            )
        assert isinstance(layer, Buffer)
        shape = layer.shape if isinstance(layer.shape, tuple) else (layer.shape,)
        # zeros: valid indices for the embeddings that read a buffer (position and token-type ids)
        ids = any(n.kind in ("embedding", "embeddingbag") and node.name in n.inputs for n in self.graph.nodes)
        zeros = Call("torch.zeros", [_hole(shape, "shape"), *([Kw("dtype", "torch.long")] if ids else [])])
        return Call(f"{parent}.register_buffer", [name, zeros, Kw("persistent", _q(layer.persistent))])

    def access(self, owner: _Mod, parts: tuple[str, ...], parameter: bool = False) -> str:
        """Source that reaches a module (or, with `parameter`, a tensor: the last part) from `self` in owner."""
        code, mod = "self", owner
        relative = parts[len(owner.parts) :]
        for i, part in enumerate(relative):
            if parameter and i == len(relative) - 1:
                return f"{code}.{part}" if plain(part) else f"getattr({code}, {_q(part)})"
            if mod.mode == "sequential":
                code += f"[{[p for p, _ in self.modules(mod)].index(part)}]"
            elif mod.mode == "list":
                code += f"[{int(part)}]"
            elif plain(part):
                code += f".{part}"
            elif mod.mode == "dict":
                code += f"[{_q(part)}]"
            else:
                code = f"getattr({code}, {_q(part)})"
            mod = mod.children[part]
        return code

    def init_lines(self, body: _Body, sub, indent: str = "        ", flags: dict[str, str] | None = None) -> list[str]:
        lines = []
        for attribute, e in body.init:
            if not attribute:
                lines += _lines(e, indent, "", "", sub)
            elif flags and attribute in flags:  # an optional module
                lines += [f"{indent}self.{attribute} = None", f"{indent}if {flags[attribute]}:"]
                lines += _lines(e, indent + "    ", f"self.{attribute} = ", "", sub)
            elif plain(attribute):
                lines += _lines(e, indent, f"self.{attribute} = ", "", sub)
            else:
                lines += _lines(Call("self.add_module", [_q(attribute), e]), indent, "", "", sub)
        return lines

    # -- forward

    def units(self, mod: _Mod):
        """The modules `mod`'s forward calls: leaves, classes, chains and loops; through lists and dicts."""
        for child in mod.children.values():
            if child.mode == "list" and self.loop(child):
                yield child
            elif child.mode in ("list", "dict"):
                yield from self.units(child)
            else:
                yield child

    def loop(self, mod: _Mod) -> bool:
        """A list whose modules each read the one before and the same other values (`for layer in ...`)."""
        children = list(mod.children.values())
        if len(children) < 2 or any(c.mode not in ("class", "sequential") or not c.inputs for c in children):
            return False
        current, others = children[0].inputs[0], children[0].inputs[1:]
        for child in children:
            outputs = child.outputs or [self.graph.nodes[child.indices[-1]].name]
            if child.inputs != [current, *others] or len(outputs) != 1 or current in others:
                return False
            current = outputs[0]
        return set(mod.outputs) <= {current}

    def forward(self, owner: _Mod) -> tuple[list[str], str]:
        """forward's lines and its `def` line. A step that reads a value for the last time writes its
        variable (x = self.bn1(x)); a value a later step continues is `x` (else `out`) when free."""
        steps = []  # (unit, values read, values written)
        for unit in sorted(self.units(owner), key=lambda m: m.indices[0]):
            if unit.node is not None:
                steps.append((unit, list(unit.node.inputs), [unit.name]))
            elif unit.mode == "list":  # a loop: its last module's output
                last = list(unit.children.values())[-1]
                steps.append((unit, unit.inputs, last.outputs or [self.graph.nodes[last.indices[-1]].name]))
            else:
                steps.append((unit, unit.inputs, unit.outputs or [self.graph.nodes[unit.indices[-1]].name]))
        if owner.mode == "root":
            params = list(self.spec.inputs)
            names = ["x"] if params == ["input"] else params
            outputs = list(self.graph.outputs)
            outputs = [outputs[-1], *outputs[:-1]] if len(outputs) > 1 else outputs  # the main output first
        else:
            params = owner.inputs
            names = ["x"] + [p.split(".")[-1] for p in params[1:]]
            outputs = owner.outputs or [self.graph.nodes[owner.indices[-1]].name]
        last_read: dict[str, int] = {}
        for s, (_, reads, _) in enumerate(steps):
            for name in reads:
                last_read[name] = s
        kept = set(outputs)
        variables: dict[str, str] = {}
        holder: dict[str, str] = {}  # variable -> the value it holds now
        used = set(GLOBALS)

        def fresh(hint: str) -> str:
            base = _identifier(hint, "x")
            base = base if base not in GLOBALS else base + "_"
            name, n = base, 1
            while name in used:
                n += 1
                name = f"{base}_{n}"
            used.add(name)
            return name

        def free(variable: str, s: int) -> bool:
            value = holder.get(variable)
            if value is None or value in kept:
                return value is None
            # a loop reads its other inputs in every turn: their variables stay theirs
            return last_read.get(value, -1) < s or (last_read.get(value) == s and not looping(s, value))

        def looping(s: int, value: str) -> bool:
            return is_loop(steps[s][0]) and value in steps[s][1][1:]

        for param, name in zip(params, names):
            variables[param] = fresh(name)
            holder[variables[param]] = param
        # a parameter or buffer is read where it is used (self.pos_embedding), not through a variable
        tensors = {
            unit.name for unit, _, _ in steps if unit.node is not None and unit.node.kind in ("parameter", "buffer")
        }

        def is_loop(unit: _Mod) -> bool:
            return unit.node is None and unit.mode == "list"

        continues: list[str | None] = []
        for s, (_, reads, writes) in enumerate(steps):
            chosen = None
            if len(writes) == 1:
                for name in reads[:1] if is_loop(steps[s][0]) else reads:
                    movable = name not in tensors and (name not in params or variables[name] == "x")
                    if movable and last_read.get(name) == s and name not in kept:
                        chosen = name
                        break
            continues.append(chosen)
        continued = {c for c in continues if c is not None}
        lines = []
        for s, (unit, reads, writes) in enumerate(steps):
            args = [variables[n] for n in reads]
            expression = "" if is_loop(unit) else self.expression(owner, unit, args)
            if unit.name in tensors:
                variables[unit.name] = expression
                continue
            targets = []
            for name in writes:
                previous = continues[s]
                if previous is not None:
                    variable = variables[previous]
                elif name in continued and (choice := next((v for v in ("x", "out") if free(v, s)), None)):
                    variable = choice
                    used.add(choice)
                else:
                    named = unit.name if len(writes) == 1 else name  # a class or chain: its own name
                    variable = fresh(named[len(owner.name) + 1 :] if owner.name else named)
                variables[name] = variable
                holder[variable] = name
                targets.append(variable)
            if is_loop(unit):  # out = input; for layer in self.layers: out = layer(out, ...)
                (target,) = targets
                if target != args[0]:
                    lines.append(f"{target} = {args[0]}")
                layer = fresh("layer")
                lines += [
                    f"for {layer} in {self.access(owner, unit.parts)}:",
                    f"    {target} = {layer}({', '.join([target, *args[1:]])})",
                ]
                continue
            lines.append(f"{', '.join(targets)} = {expression}")
        lines.append(f"return {', '.join(variables[n] for n in outputs)}")
        return lines, f"def forward(self, {', '.join(variables[p] for p in params)}):"

    def expression(self, owner: _Mod, unit: _Mod, args: list[str]) -> str:
        node = unit.node
        if node is None:
            return f"{self.access(owner, unit.parts)}({', '.join(args)})"
        if node.kind in ("parameter", "buffer"):
            tensor = self.access(owner, unit.parts, parameter=True)
            return tensor if node.kind == "parameter" else tensor + "[None]"  # a batch of one, as a parameter's
        if self.sources[node.name] is not None:
            return self.module_call(node, self.access(owner, unit.parts), args)
        if node.kind in ("reshape", "view") and owner.mode == "class":  # the shape may differ between uses
            local = unit.name[len(owner.name) + 1 :]
            self.shape_holes.append(Hole(_q(tuple(self.shapes[node.name])), f"{local}_shape"))
            return f"{args[0]}.{node.kind}({args[0]}.shape[0], \x02{len(self.shape_holes) - 1}\x02)"
        if node.kind == "concat":
            args = self.batched(node, args)
        return functional(node.layer, args, [self.shapes[n] for n in node.inputs], self.shapes[node.name])

    def batched(self, node, args: list[str]) -> list[str]:
        """torch.cat needs equal batch sizes: a parameter (batch 1) is expanded to its neighbours' batch."""
        params = [self.kinds.get(name) in ("parameter", "buffer") for name in node.inputs]
        if not any(params) or all(params):
            return args
        batch = f"{args[params.index(False)]}.shape[0]"
        return [
            f"{a}.expand({', '.join([batch] + ['-1'] * len(self.shapes[name]))})" if is_param else a
            for a, name, is_param in zip(args, node.inputs, params)
        ]

    def module_call(self, node, module: str, args: list[str]) -> str:
        kind = node.kind
        if kind == "multiheadattention":
            q, k, v = (args * 3)[:3] if len(args) == 1 else (args[0], args[1], args[-1])
            if projected_attention(node.layer, [self.shapes[n] for n in node.inputs]):
                return f"{module}({q}, {k}, {v})"
            return f"{module}({q}, {k}, {v}, need_weights=False)[0]"
        if kind in ("rnn", "lstm", "gru") or getattr(node.layer, "return_indices", False):
            return f"{module}({args[0]})[0]"
        return f"{module}({', '.join(args)})"

    # -- ties and freezes: once every module exists, from the network

    def after(self) -> list[str]:
        lines = []
        for node in self.graph.nodes:
            parts = self.by_name[node.name].parts
            if node.tie:
                owner = self.by_name[node.tie]
                if owner.node is not None and owner.node.kind == "parameter":
                    theirs = self.access(self.root, owner.parts, parameter=True)
                else:
                    theirs = self.access(self.root, owner.parts) + ".weight"
                if node.kind == "parameter":
                    parent = self.access(self.root, parts[:-1])
                    lines.append(f"{parent}.register_parameter({_q(parts[-1])}, {theirs})")
                else:
                    lines.append(f"{self.access(self.root, parts)}.weight = {theirs}")
            if node.frozen:
                is_tensor = node.kind in ("parameter", "buffer")
                lines.append(f"{self.access(self.root, parts, parameter=is_tensor)}.requires_grad_(False)")
        return lines

    # -- the module

    def render(self) -> str:
        spec = self.spec
        taken = {"Network", "INPUT_SHAPES", "TOKEN_INPUTS", *HELPERS}
        cls = _camel(spec.name, "Network")
        cls = cls if plain(cls) and cls not in taken else "Network"
        taken.add(cls)
        variants: dict[str, int] = {}
        for c in self.classes:
            variants[c.definition] = variants.get(c.definition, 0) + 1
        counts: dict[str, int] = {}
        for c in self.classes:
            base = _camel(c.definition, "Block")
            if variants[c.definition] > 1:
                counts[c.definition] = counts.get(c.definition, 0) + 1
                base = f"{base}_{counts[c.definition]}"
            name, n = base, 1
            while name in taken:
                n += 1
                name = f"{base}{n}"
            c.name = name
            taken.add(name)
        root = self.body(self.root)
        blocks = [line for c in self.classes for line in self.render_class(c, variants[c.definition])]
        shapes = ", ".join(f"{_q(name)}: {list(shape)!r}" for name, shape in spec.inputs.items())
        tokens = self.token_inputs()
        lines = [
            f'"""{cls}, exported by paramcalc from a spec ({len(self.graph.nodes)} layers).',
            "",
            "build_model() returns the network; example_inputs() returns one batch of inputs shaped as the",
            'spec says. Shapes in forward are batch-first."""',
            "",
            "import torch",
            "from torch import nn",
        ]
        if self.uses_named:
            lines += NAMED_SEQUENTIAL.rstrip("\n").split("\n")
        for helper in sorted(self.helpers):
            lines += HELPERS[helper].rstrip("\n").split("\n")
        lines += blocks
        lines += ["", "", f"class {cls}(nn.Module):", "    def __init__(self):", "        super().__init__()"]
        lines += self.init_lines(root, _literal) + [w for line in self.after() for w in _wrap(line, "        ")]
        lines += ["", "    " + root.signature]
        lines += [wrapped for line in root.forward for wrapped in _wrap(line, "        ")]  # (no shape holes)
        lines += ["", ""]
        lines += ["def build_model():", f"    return {cls}()", "", ""]
        lines += [
            "# per-sample shapes of the inputs, in forward's order; token-id inputs with their vocabulary",
            f"INPUT_SHAPES = {{{shapes}}}",
            f"TOKEN_INPUTS = {_q(tokens)}",
            "",
            "",
            "def example_inputs(batch=1, generator=None):",
            '    """One batch of inputs: token ids below each vocabulary, else standard normal values."""',
            "    out = []",
            "    for name, shape in INPUT_SHAPES.items():",
            "        if name in TOKEN_INPUTS:",
            "            out.append(torch.randint(0, TOKEN_INPUTS[name], (batch, *shape), generator=generator))",
            "        else:",
            "            out.append(torch.randn(batch, *shape, generator=generator))",
            "    return tuple(out)",
            "",
        ]
        return "\n".join(lines)

    def render_class(self, c: _Class, variants: int) -> list[str]:
        lines = ["", ""]
        if variants > 1:
            lines += [
                f"# {c.name}: one of {variants} classes for one block of the spec, whose uses differ",
                "# in structure (a `when:`, or a kind chosen by an argument)",
            ]
        lines.append(f"class {c.name}(nn.Module):")
        lines += _lines(Call("def __init__", ["self", *c.params]), "    ", "", ":", str)
        lines.append("        super().__init__()")
        subs = {id(h): text for h, text in zip(c.body.holes, c.subs)}
        lines += self.init_lines(c.body, lambda h: subs[id(h)], flags=c.flags)
        used = self.shapes_used(c, lines)
        lines += ["", "    " + c.body.signature]
        for line in c.body.forward:
            line = re.sub("\x02(\\d+)\x02", lambda m: used[int(m.group(1))], line)
            optional = self.optional_call(line, c.flags)
            if optional:
                lines += [f"        if self.{optional} is not None:", f"            {line}"]
            else:
                lines += _wrap(line, "        ")
        return lines

    def shapes_used(self, c: _Class, init: list[str]) -> list[str]:
        """The text of each shape hole in forward: the shape, or `*self.NAME` where uses differ (an
        argument, kept by __init__)."""
        texts = []
        children = set(c.members[0].children)
        for hole, text in zip(c.body.holes[c.body.in_init :], c.subs[c.body.in_init :]):
            assert text is not None
            if text == hole.value:
                texts.append(text[1:-1].rstrip(","))
                continue
            attribute = text
            while attribute in children or attribute in RESERVED:
                attribute += "_"
            if f"*self.{attribute}" not in texts:  # a shape argument used twice is kept once
                init.append(f"        self.{attribute} = {text}")
            texts.append(f"*self.{attribute}")
        return texts

    def token_inputs(self) -> dict[str, int]:
        """Inputs read by an embedding are token ids: the smallest table bounds them."""
        return self.analysis.token_inputs()


def export_pytorch(spec: Spec) -> str:
    """PyTorch source for a spec. Raises SpecError for an invalid spec or a kind that cannot be exported."""
    return _Writer(spec).write()
