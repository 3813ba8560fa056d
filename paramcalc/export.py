"""Spec -> PyTorch source: a module that imports only torch and defines `build_model()`.

Pure text generation (torch is never imported here). The module tree follows the spec's hierarchical
names, so `state_dict()` keys are the spec's names (`layer1.0.conv1.weight`): a spec written with
torchvision's names loads torchvision's weights. Containers are `nn.ModuleDict`s, whose keys may be any
string (`"0"`); `forward` is the spec's graph in execution order.

Spec text is untrusted: every value written into the code is a validated field value passed through
repr(), every name is either a plain ASCII identifier or a repr()'d string key, and every local variable
is generated here. Nothing from a spec is ever written into a comment.
"""

from __future__ import annotations

import keyword
import re

from .errors import SpecError
from .layers.base import REQUIRED, Shape
from .layers.linear import Buffer, Embedding
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


def _r(value) -> str:
    """A validated field value as Python source; tuples of one repeated value collapse to it."""
    if isinstance(value, tuple):
        if value and len(set(value)) == 1 and None not in value:
            return repr(value[0])
        return repr(value)
    return repr(value)


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


def _kwargs(layer, first: tuple[str, ...] = ()) -> list[str]:
    """`key=value` for every field that differs from its default (positional `first` fields excluded)."""
    out = []
    defaults = layer.defaults()
    for name in layer.fields():
        if name in SKIPPED or name in first:
            continue
        value = getattr(layer, name)
        default = defaults[name]
        if default is not REQUIRED and value == _normal(default, value):
            continue
        aka = layer.fields()[name].aka  # a field's first synonym is PyTorch's name for it
        key = aka[0] if aka else name
        if name == "dtype":
            out.append(f"dtype=torch.{TORCH_DTYPES[value]}")
        elif isinstance(value, tuple) and name in ("shape", "sizes", "scale", "size", "out") and None not in value:
            out.append(f"{key}={value!r}")
        else:
            out.append(f"{key}={_r(value)}")
    return out


def _normal(default, value):
    """A default as the coerced field would hold it (an int default of a per-dimension field is a tuple)."""
    if isinstance(value, tuple) and not isinstance(default, tuple) and default is not None:
        return (default,) * len(value)
    return default


def _call(cls: str, positional: list[str], kwargs: list[str]) -> str:
    return f"nn.{cls}({', '.join([*positional, *kwargs])})"


class _Unexportable(Exception):
    pass


def construct(layer, in_shapes: list[Shape]) -> str | None:
    """Source of the nn.Module for a layer, or None for a kind that is a torch operation in forward."""
    kind, tn = layer.kind, getattr(layer, "torch_name", "")
    first: Shape = in_shapes[0] if in_shapes else ()  # read only by kinds that have an input
    if kind.startswith(("conv", "convtranspose")):
        return _call(tn, [repr(first[0]), repr(layer.out)], _kwargs(layer, ("out",)))
    if kind == "linear":
        return _call(tn, [repr(first[-1]), repr(layer.out)], _kwargs(layer, ("out",)))
    if kind in ("embedding", "embeddingbag"):
        return _call(tn, [repr(layer.num), repr(layer.dim)], _kwargs(layer, ("num", "dim")))
    if kind.startswith(("batchnorm", "instancenorm")):
        return _call(tn, [repr(first[0])], _kwargs(layer))
    if kind in ("layernorm", "rmsnorm"):
        shape = layer.shape if layer.shape is not None else (first[-1],)
        return _call(tn, [repr(list(shape))], _kwargs(layer, ("shape",)))
    if kind == "groupnorm":
        return _call(tn, [repr(layer.groups), repr(first[0])], _kwargs(layer, ("groups",)))
    if kind == "layernorm2d":
        return f"LayerNorm2d({', '.join([repr(first[0]), *_kwargs(layer, ('channels',))])})"
    if kind == "multiheadattention":
        if not projected_attention(layer, in_shapes):
            return _call(tn, [repr(first[-1]), repr(layer.heads)], [*_kwargs(layer, ("heads",)), "batch_first=True"])
        return attention_module(layer, in_shapes)
    if kind in ("transformerencoderlayer", "transformerdecoderlayer"):
        return _call(tn, [repr(first[-1]), repr(layer.heads)], [*_kwargs(layer, ("heads",)), "batch_first=True"])
    if kind in ("rnn", "lstm", "gru"):
        return _call(tn, [repr(first[-1]), repr(layer.hidden)], [*_kwargs(layer, ("hidden",)), "batch_first=True"])
    if kind.startswith(("maxpool", "avgpool")):
        return _call(tn, [_r(layer.kernel)], _kwargs(layer, ("kernel",)))
    if kind.startswith("adaptive"):
        out = layer.out
        value = repr(out[0]) if len(set(out)) == 1 and None not in out else repr(out)
        return _call(tn, [value], _kwargs(layer, ("out",)))
    if kind in ("parameter", "buffer"):
        return None
    if kind in ("upsample", "upsamplingnearest2d", "upsamplingbilinear2d"):
        args = [f"size={layer.size!r}" if layer.size is not None else f"scale_factor={layer.scale!r}"]
        if kind == "upsample":
            args += _kwargs(layer, ("size", "scale"))
        return _call(tn, [], args)
    if kind == "channelshuffle":
        return _call("ChannelShuffle", [repr(layer.groups)], [])
    if kind in ("unflatten",):
        return _call(tn, [repr(layer.dim), repr(layer.sizes)], [])
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


def attention_module(layer, in_shapes) -> str:
    """The generated Attention (q/k/v/out linears, scaled_dot_product_attention) for a layer."""
    query, key, value = (in_shapes * 3)[:3] if len(in_shapes) == 1 else (in_shapes[0], in_shapes[1], in_shapes[-1])
    e = query[-1]
    head_dim = layer.head_dim if layer.head_dim is not None else e // layer.heads
    kwargs = [
        f"kv_heads={layer.kv_heads or layer.heads!r}",
        f"head_dim={head_dim!r}",
        f"kdim={key[-1]!r}",
        f"vdim={value[-1]!r}",
    ]
    kwargs += [f"{name}={_has(layer, getattr(layer, name))!r}" for name in ("q_bias", "k_bias", "v_bias", "out_bias")]
    if layer.add_bias_kv:
        kwargs.append("add_bias_kv=True")
    if layer.add_zero_attn:
        kwargs.append("add_zero_attn=True")
    if layer.dropout:
        kwargs.append(f"dropout={layer.dropout!r}")
    if layer.dtype:
        kwargs.append(f"dtype=torch.{TORCH_DTYPES[layer.dtype]}")
    return f"Attention({', '.join([repr(e), repr(layer.heads), *kwargs])})"


def _dims(values) -> str:
    return repr(tuple(values)) if len(values) != 1 else repr(values[0])


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
        return f"torch.cat([{', '.join(args)}], dim={layer.dim!r})"
    if kind == "split":
        size = list(layer.size) if isinstance(layer.size, tuple) else layer.size
        return f"torch.split({x}, {size!r}, dim={layer.dim!r})[{layer.index!r}]"
    if kind == "chunk":
        return f"torch.chunk({x}, {layer.chunks!r}, dim={layer.dim!r})[{layer.index!r}]"
    if kind == "mean":
        return f"{x}.mean(dim={_dims(layer.dim)}, keepdim={layer.keepdim!r})"
    if kind in ("reshape", "view"):
        method = "reshape" if kind == "reshape" else "view"
        return f"{x}.{method}({x}.shape[0], {', '.join(repr(s) for s in out_shape)})"
    if kind == "permute":
        return f"{x}.permute({', '.join(repr(d) for d in layer.dims)})"
    if kind == "transpose":
        return f"{x}.transpose({layer.dim0!r}, {layer.dim1!r})"
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
        return f"{x}.unsqueeze({layer.dim!r})"
    if kind == "select":
        return f"{x}.select({layer.dim!r}, {layer.index!r})"
    if kind == "stochasticdepth":
        return f"stochastic_depth({x}, {layer.p!r}, {layer.mode!r}, self.training)"
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
    "stochasticdepth",
    "matmul",
    "bmm",
}

STOCHASTIC_DEPTH = '''

def stochastic_depth(x, p, mode, training):
    """torchvision.ops.stochastic_depth: drops whole samples ("row") or the batch of a residual branch."""
    if not training or p == 0.0:
        return x
    survival = 1.0 - p
    size = [x.shape[0]] + [1] * (x.ndim - 1) if mode == "row" else [1] * x.ndim
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

    def __init__(self, embed_dim, heads, kv_heads, head_dim, kdim, vdim, q_bias, k_bias, v_bias, out_bias,
                 add_bias_kv=False, add_zero_attn=False, dropout=0.0, dtype=None):
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
            split(q, self.heads), split(k, self.kv_heads), split(v, self.kv_heads),
            dropout_p=self.dropout if self.training else 0.0, enable_gqa=True)
        return self.out_proj(out.transpose(-2, -3).flatten(-2))
'''

HELPERS = {"LayerNorm2d": LAYER_NORM_2D, "Attention": ATTENTION}


# ---------------------------------------------------------------- the module tree and forward


def _refuse(message: str, node=None) -> SpecError:
    return SpecError(
        f"cannot export to PyTorch: {message}", node.loc if node else None, layer=node.label if node else None
    )


class _Writer:
    def __init__(self, spec: Spec):
        from .analyze import _Analysis

        analysis = _Analysis(spec)
        analysis.run()  # validates the spec: shapes chain, fields are valid
        self.spec, self.graph, self.shapes = spec, analysis.graph, analysis.shapes
        self.init: list[str] = []
        self.after: list[str] = []  # ties and freezes, once every module exists
        self.containers: set[str] = set()
        self.leaves = {node.name for node in self.graph.nodes}
        self.variables: dict[str, str] = {}
        self.used_variables: set[str] = {"self", "torch", "nn"}
        self.helpers: set[str] = set()  # generated module classes the code uses

    def variable(self, name: str) -> str:
        base = re.sub(r"\W|^(?=\d)", "_", name.replace(".", "_"), flags=re.ASCII) or "x"
        base = base if plain(base) else base + "_"
        candidate, n = base, 1
        while candidate in self.used_variables:
            n += 1
            candidate = f"{base}_{n}"
        self.used_variables.add(candidate)
        self.variables[name] = candidate
        return candidate

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

    def access(self, parts: list[str], parameter: bool = False) -> str:
        """Source that reaches a module (or a parameter, for the last part) from `self`."""
        code = "self"
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if plain(part):
                code += f".{part}"
            elif i == 0 or (last and parameter):
                code = f"getattr({code}, {part!r})"
            else:
                code += f"[{part!r}]"
        return code

    def ensure_containers(self, parts: list[str]):
        for i in range(1, len(parts)):
            prefix = parts[:i]
            key = ".".join(prefix)
            if key not in self.containers:
                self.containers.add(key)
                self.assign(prefix, "nn.ModuleDict()")

    def assign(self, parts: list[str], value: str):
        parent, last = self.access(parts[:-1]), parts[-1]
        if plain(last):
            self.init.append(f"{parent}.{last} = {value}")
        elif len(parts) == 1:
            self.init.append(f"self.add_module({last!r}, {value})")
        else:
            self.init.append(f"{parent}[{last!r}] = {value}")

    def write(self) -> str:
        graph = self.graph
        forward: list[str] = []
        inputs = [self.variable(name) for name in self.spec.inputs]
        uses_depth = False
        for node in graph.nodes:
            parts = self.path(node.name, node)
            in_shapes = [self.shapes[n] for n in node.inputs]
            layer = node.layer
            try:
                source = construct(layer, in_shapes)
            except _Unexportable:
                raise _refuse(f"kind '{node.kind}' has no PyTorch equivalent here", node) from None
            args = [self.variables[n] for n in node.inputs]
            self.ensure_containers(parts)
            if source is not None:
                self.helpers.update(h for h in HELPERS if source.startswith(h + "("))
            if node.kind == "parameter":
                shape = (1, *self.shapes[node.name])
                grad = "" if layer.requires_grad else ", requires_grad=False"
                dtype = f", dtype=torch.{TORCH_DTYPES[layer.dtype]}" if layer.dtype else ""
                tensor = f"nn.Parameter(torch.zeros({', '.join(map(str, shape))}{dtype}){grad})"
                parent = self.access(parts[:-1])
                self.init.append(f"{parent}.register_parameter({parts[-1]!r}, {tensor})")
                expression = self.access(parts, parameter=True)
            elif node.kind == "buffer":
                assert isinstance(layer, Buffer)
                shape = layer.shape if isinstance(layer.shape, tuple) else (layer.shape,)
                # zeros: valid indices for the embeddings that read a buffer (position and token-type ids)
                ids = any(n.kind in ("embedding", "embeddingbag") and node.name in n.inputs for n in graph.nodes)
                dtype = ", dtype=torch.long" if ids else ""
                parent = self.access(parts[:-1])
                self.init.append(
                    f"{parent}.register_buffer({parts[-1]!r}, torch.zeros({shape!r}{dtype}), "
                    f"persistent={layer.persistent!r})"
                )
                expression = self.access(parts, parameter=True) + "[None]"  # a batch of one, as a parameter's
            elif source is not None:
                self.assign(parts, source)
                module = self.access(parts)
                expression = self.module_call(node, module, args)
            else:
                uses_depth |= node.kind == "stochasticdepth"
                if node.kind == "concat":
                    args = self.batched(node, args)
                expression = functional(layer, args, in_shapes, self.shapes[node.name])
            if node.tie:
                self.tie(node, parts)
            if node.frozen:
                is_tensor = node.kind in ("parameter", "buffer")
                self.after.append(f"{self.access(parts, parameter=is_tensor)}.requires_grad_(False)")
            forward.append(f"{self.variable(node.name)} = {expression}")
        outputs = [self.variables[name] for name in graph.outputs]
        # the main output (the last) first, then the named extra outputs, as `outputs:` lists them
        ordered = [outputs[-1], *outputs[:-1]] if len(outputs) > 1 else outputs
        result = ordered[0] if len(ordered) == 1 else f"({', '.join(ordered)})"
        return self.render(inputs, forward, result, uses_depth)

    def batched(self, node, args: list[str]) -> list[str]:
        """torch.cat needs equal batch sizes: a parameter (batch 1) is expanded to its neighbours' batch."""
        kinds = {n.name: n.kind for n in self.graph.nodes}
        params = [kinds.get(name) in ("parameter", "buffer") for name in node.inputs]
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

    def tie(self, node, parts):
        owner = next(n for n in self.graph.nodes if n.name == node.tie)
        owner_parts = owner.name.split(".")
        theirs = (
            self.access(owner_parts, parameter=True)
            if owner.kind == "parameter"
            else self.access(owner_parts) + ".weight"
        )
        if node.kind == "parameter":
            parent = self.access(parts[:-1])
            self.after.append(f"{parent}.register_parameter({parts[-1]!r}, {theirs})")
        else:
            self.after.append(f"{self.access(parts)}.weight = {theirs}")

    def render(self, inputs, forward, result, uses_depth) -> str:
        spec = self.spec
        words = re.findall(r"[A-Za-z0-9]+", spec.name, flags=re.ASCII)
        cls = "".join(w[:1].upper() + w[1:] for w in words) or "Network"
        cls = cls if plain(cls) and cls not in ("torch", "nn", "build_model", "example_inputs", *HELPERS) else "Network"
        if cls[0].isdigit():
            cls = "Network" + cls
        shapes = ", ".join(f"{name!r}: {list(shape)!r}" for name, shape in spec.inputs.items())
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
        if uses_depth:
            lines += STOCHASTIC_DEPTH.rstrip("\n").split("\n")
        for helper in sorted(self.helpers):
            lines += HELPERS[helper].rstrip("\n").split("\n")
        lines += ["", "", f"class {cls}(nn.Module):", "    def __init__(self):", "        super().__init__()"]
        lines += [f"        {line}" for line in self.init + self.after]
        lines += ["", f"    def forward(self, {', '.join(inputs)}):"]
        lines += [f"        {line}" for line in forward]
        lines += [f"        return {result}", "", ""]
        lines += ["def build_model():", f"    return {cls}()", "", ""]
        lines += [
            "# per-sample shapes of the inputs, in forward's order; token-id inputs with their vocabulary",
            f"INPUT_SHAPES = {{{shapes}}}",
            f"TOKEN_INPUTS = {tokens!r}",
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

    def token_inputs(self) -> dict[str, int]:
        """Inputs read by an embedding are token ids: the smallest table bounds them."""
        tokens: dict[str, int] = {}
        for node in self.graph.nodes:
            if isinstance(node.layer, Embedding):  # and EmbeddingBag
                for name in node.inputs:
                    if name in self.spec.inputs:
                        tokens[name] = min(tokens.get(name, node.layer.num), node.layer.num)
        return tokens


def export_pytorch(spec: Spec) -> str:
    """PyTorch source for a spec. Raises SpecError for an invalid spec or a kind that cannot be exported."""
    return _Writer(spec).write()
