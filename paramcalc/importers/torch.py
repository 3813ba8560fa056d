"""A PyTorch model -> a paramcalc spec (YAML text). Needs torch, imported only when called.

The model is traced with torch.fx: every leaf module call, parameter read and tensor operation becomes
a layer named by its module path (`layer1.0.conv1`), with `from:` where the flow branches. A module
called twice shares its weight with its first call (`tie:`). fx stops at every module paramcalc has a
kind for; the functions torchvision hides from fx (Swin's window attention) are written out as the layers
they compute. Tensors that no traced call reads (an auxiliary classifier eval mode never calls) are
declared by name, so the totals stay the model's. When fx cannot trace the model
(data-dependent control flow), forward hooks on the leaf modules record the calls instead: the
parameters and shapes of every module are still exact, but the tensor operations between modules
(additions, concatenations) are not seen, so each layer reads the latest output of its input's shape.
"""

from __future__ import annotations

import operator
from typing import Any

from ..errors import Loc, SpecError
from ..layers import REGISTRY
from ..spec import parse_shape

INSTALL_HINT = "this command needs PyTorch: pip install 'paramcalc[torch]'"


def need_torch():
    try:
        import torch
    except ImportError:
        raise SpecError(INSTALL_HINT) from None
    return torch


def example_inputs(shapes, tokens: int | None):
    torch = need_torch()
    if tokens:
        return [torch.randint(0, tokens, (1, *s)) for s in shapes]
    return [torch.randn(1, *s) for s in shapes]


def parse_shapes(text: str) -> list[tuple[int, ...]]:
    """`3x224x224`, or several inputs separated by `;`."""
    return [parse_shape(part.strip(), Loc("-i/--input", 0, 0)) for part in text.split(";")]


# ---------------------------------------------------------------- a module -> a kind and its fields


def module_layer(module) -> dict | None:
    """{kind: fields} for a leaf module paramcalc knows, else None."""
    # the class or its nearest torch.nn base (NonDynamicallyQuantizableLinear is a Linear)
    base: type[Any] | None = next((c for c in type(module).__mro__ if c.__name__.lower() in REGISTRY), None)
    if base is None or base.__name__.lower() == "parameter" or type(module).forward is not base.forward:
        return None  # unknown, or a subclass computing something else (LayerNorm2d)
    kind = base.__name__.lower()
    cls = REGISTRY[kind]
    fields = {}
    defaults = cls.defaults()
    for name, arg in cls.fields().items():
        if name in ("device", "dtype") or not arg.counts and name not in ("eps", "p", "approximate", "mode"):
            continue
        value = _attribute(module, name, arg)
        if value is _MISSING or value is None:
            continue
        if isinstance(value, tuple):
            value = list(value)
            if len(set(value)) == 1 and arg.type in ("size", "padding", "optional_size"):
                value = value[0]
        default = defaults[name]
        if value == default or (isinstance(value, list) and default is not None and value == [default] * len(value)):
            continue
        if isinstance(value, (bool, int, float, str)) or (
            isinstance(value, list) and all(v is None or isinstance(v, (int, float)) for v in value)
        ):
            fields[name] = value
    return {kind: fields}


_MISSING = object()


def _attribute(module, name, arg):
    if name == "bias" and hasattr(module, "in_proj_bias"):  # MultiheadAttention
        return module.in_proj_bias is not None
    if name == "add_bias_kv":
        return getattr(module, "bias_k", None) is not None
    if name == "bias":
        value = getattr(module, "bias", _MISSING)
        return value if isinstance(value, bool) or value is _MISSING else value is not None
    for attribute in (name, *arg.aka):
        if hasattr(module, attribute):
            value = getattr(module, attribute)
            return tuple(value) if isinstance(value, list) else value
    return _MISSING


# ---------------------------------------------------------------- tracing with torch.fx


class _Unsupported(Exception):
    pass


def _leaf_tracer(model):
    import torch.fx

    # found before tracing: reading a module's attributes while fx traces records them in the graph
    kinds = {id(m) for m in model.modules() if module_layer(m) is not None}

    class Tracer(torch.fx.Tracer):
        """Stops at every module paramcalc has a kind for: torchvision's LayerNorm2d, Permute or
        StochasticDepth are not torch.nn modules, which plain fx traces into."""

        proxy_buffer_attributes = True  # a buffer is read by name (get_attr), not baked in as a constant

        def is_leaf_module(self, m, module_qualified_name):
            return id(m) in kinds or super().is_leaf_module(m, module_qualified_name)

    return Tracer()


_SPLITTERS = ("chunk", "split", "unbind")  # a tuple of tensors, taken one by one with getitem
# zero-cost elementwise operations: with a constant (or a tensor the spec does not hold) they keep the
# spec tensor's shape and add nothing to the counts
_ELEMENTWISE = {
    "add", "iadd", "sub", "isub", "mul", "imul", "truediv", "itruediv", "div", "floordiv", "pow", "neg",
    "exp", "clamp", "masked_fill", "sqrt", "rsqrt", "abs", "normalize",
}  # fmt: skip


class _FxSpec:
    """The spec written from one fx graph. Every tensor node the spec holds has a name; its per-sample
    shape is its traced shape without its first `lead` dims: 1 for the batch (or a parameter's leading 1
    that broadcasts over it, as a class token's), 0 for a tensor built from parameters and buffers alone
    (Swin V2's position-bias table), whose dims then count from 1 in the spec."""

    def __init__(self, model, graph_module) -> None:
        self.model = model
        self.modules = dict(graph_module.named_modules())
        self.graph_module = graph_module
        self.names: dict = {}  # fx node -> the spec name whose output it is
        self.lead: dict = {}
        self.batched: set = set()  # nodes that carry the input's batch
        self.pending: dict = {}  # get_attr nodes, written when first read as a tensor
        self.opaque: set = set()  # computed from parameters alone by what the spec cannot express
        self.splits: dict = {}  # chunk/split/unbind nodes -> (kind, fields, source node)
        self.used: set[str] = set()
        self.owners: dict = {}  # id(weight) -> the layer holding it
        self.accounted: set[int] = set()  # ids of the model's tensors some layer counts
        self.tensors = {id(t) for t in (*model.parameters(), *model.buffers())}
        self.spec_inputs: dict = {}
        self.entries: list = []
        self.previous: str | None = None

    # -- bookkeeping

    def unique(self, base: str) -> str:
        name, n = base, 1
        while name in self.used:
            n += 1
            name = f"{base}_{n}"
        self.used.add(name)
        return name

    def full(self, node) -> list[int] | None:
        shape = getattr(node.meta.get("tensor_meta"), "shape", None)
        return list(shape) if shape is not None else None

    def shape(self, node) -> list[int]:
        full = self.full(node)
        assert full is not None
        return full[self.lead.get(node, 1) :]

    def holds(self, arg) -> bool:
        import torch.fx

        return isinstance(arg, torch.fx.Node) and (arg in self.names or arg in self.pending)

    def source(self, arg) -> str:
        import torch.fx

        if not isinstance(arg, torch.fx.Node):
            raise _Unsupported(f"an argument {arg!r} where a tensor was expected")
        if arg in self.pending:
            self.declare(arg)
        if arg not in self.names:
            raise _Unsupported(f"'{arg.name}' is not a tensor the spec can name")
        return self.names[arg]

    def add(self, node, base: str, kind: str, fields: dict, sources: list[str]) -> str:
        """Appends a layer (a layer without `from:` reads the one before it, a declared tensor aside)."""
        name = self.unique(base)
        fields = dict(fields)
        if sources and sources != [self.previous]:
            fields["from"] = sources if len(sources) > 1 else sources[0]
        fields["name"] = name
        self.entries.append({kind: fields})
        if node is not None:
            self.names[node] = name
        if kind not in ("parameter", "buffer"):  # a declared tensor leaves the flow where it was
            self.previous = name
        return name

    def declare(self, node) -> str:
        """A parameter or buffer read by name (a class token, a layer scale, Swin's index buffer)."""
        value = self.pending.pop(node)
        self.accounted.add(id(value))
        return self.add(node, node.target, *_declared(value, self.lead[node]), [])

    def fold(self, *nodes) -> None:
        """Tensors a layer written here holds itself (Swin's qkv and proj weights, a lookup table)."""
        for node in nodes:
            if node is not None and node in self.pending:
                self.accounted.add(id(self.pending.pop(node)))

    def lookup(self, node, table, index) -> str:
        """table[index], a learned (rows, dim) table read at an index buffer: an embedding holding it."""
        weights = self.pending[table]
        self.fold(table)
        fields = {"num": weights.shape[0], "dim": weights.shape[1]}
        name = self.add(node, table.target, "embedding", fields, [self.source(index)])
        self.owners.setdefault(id(weights), name)
        return name

    def dim(self, node, d: int) -> int:
        """A dim of the traced tensor -> the spec's (batch = 0)."""
        return d if d < 0 else d + 1 - self.lead.get(node, 1)

    def alias(self, node, of) -> None:
        self.names[node] = self.source(of)
        self.lead[node] = self.lead.get(of, 1)
        if of in self.batched:
            self.batched.add(node)

    # -- the graph

    def trace(self) -> tuple[dict, list, list]:
        import torch
        import torch.fx

        for node in self.graph_module.graph.nodes:
            tensors = [a for a in node.all_input_nodes if a in self.names or a in self.pending]
            if any(a in self.batched for a in node.all_input_nodes):
                self.batched.add(node)
            # the per-sample shape: what carries the batch (or a leading 1 that broadcasts) drops dim 0
            lead_in = self.lead.get(tensors[0], 1) if tensors else 1
            full = self.full(node)
            self.lead[node] = 1 if node in self.batched or (lead_in and full and full[0] == 1) else 0
            if node.op == "placeholder":
                if full is None:
                    raise _Unsupported(f"input '{node.name}' is not a tensor")
                self.spec_inputs[node.name] = full[1:]
                self.names[node] = node.name
                self.used.add(node.name)
                self.batched.add(node)
                self.lead[node] = 1
                self.previous = node.name
            elif node.op == "call_module":
                self.call_module(node)
            elif node.op == "get_attr" and node.users:
                value = _fetch(self.graph_module, node.target)
                if not isinstance(value, torch.Tensor):
                    raise _Unsupported(f"'{node.target}' is not a tensor")
                if id(value) not in self.tensors:  # a constant fx made while tracing, not the model's state
                    self.opaque.add(node)
                    continue
                self.pending[node] = value
                self.lead[node] = 1 if value.ndim > 1 and value.shape[0] == 1 else 0
            elif node.op in ("call_function", "call_method"):
                _operation(self, node)
            elif node.op == "output":
                out = node.args[0]
                outs = out if isinstance(out, (tuple, list)) else [out]
                if not outs or not all(isinstance(o, torch.fx.Node) and o in self.names for o in outs):
                    raise _Unsupported("the model's output is not a tensor (or a tuple of tensors) the spec can name")
                self.declare_the_rest()
                return self.spec_inputs, self.entries, [self.names[o] for o in outs]
        raise _Unsupported("the traced graph has no output")

    def call_module(self, node) -> None:
        import torch.fx

        module = self.modules[node.target]
        layer = module_layer(module)
        if layer is None:
            raise _Unsupported(f"module '{node.target}' ({type(module).__name__}) has no paramcalc kind")
        args = [a for a in node.args if isinstance(a, torch.fx.Node)]
        kind = next(iter(layer))
        if REGISTRY[kind].arity == (1, 1):
            args = args[:1]
        sources = [self.source(a) for a in args]
        owner = _weight_owner(module, kind, self.owners)
        if owner:
            layer[kind]["tie"] = owner
        name = self.add(node, node.target, kind, layer[kind], sources)
        _own_weight(module, kind, self.owners, name)
        self.accounted.update(id(t) for t in (*module.parameters(), *module.buffers()))

    def declare_the_rest(self) -> None:
        """Tensors no layer counts: read but not used, or in modules eval mode never calls (GoogLeNet's
        and Inception's auxiliary classifiers). Declared by name, so the totals are the model's."""
        for node in list(self.pending):
            self.declare(node)
        for path, tensor in (*self.model.named_parameters(), *self.model.named_buffers()):
            if id(tensor) not in self.accounted:
                self.accounted.add(id(tensor))
                self.add(None, path, *_declared(tensor, 0), [])


def _declared(value, lead: int) -> tuple[str, dict]:
    import torch

    shape = list(value.shape[lead:])
    if isinstance(value, torch.nn.Parameter):
        return "parameter", {"shape": shape} if value.requires_grad else {"shape": shape, "requires_grad": False}
    return "buffer", {"shape": shape}


def trace_fx(model, inputs) -> tuple[dict, list, list]:
    """(spec inputs, entries, outputs) from an fx trace; raises _Unsupported for what a spec cannot express."""
    import torch.fx
    from torch.fx.passes.shape_prop import ShapeProp

    try:
        tracer = _leaf_tracer(model)
        graph_module = torch.fx.GraphModule(model, tracer.trace(model))
        ShapeProp(graph_module).propagate(*inputs)
    except Exception as e:
        raise _Unsupported(f"torch.fx cannot trace it ({type(e).__name__}: {str(e).splitlines()[0][:200]})") from e
    try:
        return _FxSpec(model, graph_module).trace()
    except _Unsupported:
        raise
    except Exception as e:  # a graph this reading does not foresee: the hooks still count every module
        raise _Unsupported(f"cannot read the traced graph ({type(e).__name__}: {str(e)[:200]})") from e


def _fetch(module, target):
    for part in target.split("."):
        module = getattr(module, part)
    return module


def _name(fn) -> str:
    return fn if isinstance(fn, str) else getattr(fn, "__name__", repr(fn))


def _operation(spec: _FxSpec, node) -> None:
    """A call_function / call_method node -> a layer, an alias of its input (views, zero-cost
    elementwise work with constants), or nothing (shape queries, checks)."""
    import torch
    import torch.nn.functional as F

    fn, args, kwargs = node.target, node.args, node.kwargs
    name = _name(fn)

    def arg(i, key, default=None):
        return args[i] if len(args) > i else kwargs.get(key, default)

    if name in _SPLITTERS and spec.holds(args[0]):
        if name == "unbind":
            spec.splits[node] = ("select", {"dim": arg(1, "dim", 0)}, args[0])
        elif name == "chunk":
            spec.splits[node] = ("chunk", {"chunks": arg(1, "chunks"), "dim": arg(2, "dim", 0)}, args[0])
        else:
            spec.splits[node] = ("split", {"size": arg(1, "split_size_or_sections"), "dim": arg(2, "dim", 0)}, args[0])
        return None
    full = spec.full(node)
    if full is None:
        return None  # shape queries (x.shape, size()) and checks compute no tensor
    if fn is operator.getitem and node.args[0] in spec.splits:
        return _getitem(spec, node, None)
    inputs = [a for a in node.all_input_nodes if spec.holds(a)]
    if not inputs:
        if any(a in spec.opaque for a in node.all_input_nodes) or not node.all_input_nodes:
            spec.opaque.add(node)  # built from what the spec does not hold (or from nothing): a constant to it
            return None
        raise _Unsupported(f"'{node.name}' reads no tensor the spec holds")
    x = inputs[0]
    out = spec.shape(node)

    def layer(kind, sources=None, **fields):
        spec.add(node, node.name, kind, fields, [spec.source(t) for t in (sources or [x])])

    if fn is operator.getitem:
        return _getitem(spec, node, layer)

    if name == "shifted_window_attention" or name in ("_patch_merging_pad", "_get_relative_position_bias"):
        return _swin(spec, node, name)
    if name in _ELEMENTWISE or fn in (torch.add, torch.mul, torch.sub, torch.div):
        held = [a for a in args if spec.holds(a)]
        if len(held) == 2 and name in ("add", "iadd", "mul", "imul"):
            return _broadcast(spec, node, "add" if "add" in name else "mul", held)
        factor = [a for a in args if a is not held[0]] if len(held) == 1 else []
        if name in ("mul", "imul") or fn is torch.mul:
            if len(held) == 1 and len(factor) == 1 and type(factor[0]) in (int, float):  # q * head_dim ** -0.5
                return layer("scale", [held[0]], by=factor[0])  # a new tensor, as memory counts it
        if len(held) == 1 and spec.shape(held[0]) == out:
            return spec.alias(node, held[0])  # with a constant: the counts do not change
        raise _Unsupported(f"'{node.name}' ({name}) of {len(held)} tensors has no paramcalc kind")
    if fn is torch.cat or fn is torch.concat:
        seq = [t for t in args[0]]
        if len(seq) == 1:
            return spec.alias(node, seq[0])  # torch.cat of one tensor is that tensor
        return layer("concat", seq, dim=spec.dim(seq[0], arg(1, "dim", 0)))
    if name == "flatten":
        start, end = spec.dim(x, arg(1, "start_dim", 0)), spec.dim(x, arg(2, "end_dim", -1))
        if start == 0:
            raise _Unsupported(f"'{node.name}' flattens the batch dimension")
        return layer("flatten", start_dim=start, end_dim=end)
    if name in ("view", "reshape"):
        return layer("reshape", shape=out)
    if name == "permute":
        dims = args[1:] if not isinstance(args[1], (tuple, list)) else args[1]
        if spec.lead[x] == 0:
            dims = [0, *(d if d < 0 else d + 1 for d in dims)]
        elif dims[0] != 0:
            raise _Unsupported(f"'{node.name}' moves the batch dimension")
        return layer("permute", dims=list(dims))
    if name in ("transpose", "swapaxes"):
        return layer("transpose", dim0=spec.dim(x, args[1]), dim1=spec.dim(x, args[2]))
    if name in ("expand", "contiguous", "clone", "detach", "to", "type_as", "float", "dropout") or fn is F.dropout:
        return spec.alias(node, x)  # values or batch shape only: the per-sample shape is kept
    if name == "mean":
        dim = arg(1, "dim")
        dims = [spec.dim(x, d) for d in dim] if isinstance(dim, (tuple, list)) else spec.dim(x, dim)
        return layer("mean", dim=dims, keepdim=bool(arg(2, "keepdim", False)))
    if name == "unsqueeze":
        return layer("unsqueeze", dim=spec.dim(x, args[1]))
    if name == "squeeze" and len(args) > 1:
        return layer("squeeze", dim=spec.dim(x, args[1]))
    if name == "einsum":
        return _einsum(spec, node, layer)
    if name == "stochastic_depth":  # torchvision.ops, wrapped for fx
        return layer("stochasticdepth", p=arg(1, "p", 0.0), mode=arg(2, "mode", "row"))
    if name in ("softmax", "log_softmax"):
        return layer("softmax" if name == "softmax" else "logsoftmax", dim=spec.dim(x, arg(1, "dim")))
    simple = {
        F.relu: "relu",
        torch.relu: "relu",
        "relu": "relu",
        F.gelu: "gelu",
        torch.sigmoid: "sigmoid",
        "sigmoid": "sigmoid",
        torch.tanh: "tanh",
        "tanh": "tanh",
        F.silu: "silu",
        F.hardswish: "hardswish",
        F.hardsigmoid: "hardsigmoid",
        F.relu6: "relu6",
    }
    if fn in simple:
        return layer(simple[fn])
    if fn is F.adaptive_avg_pool2d:
        size = arg(1, "output_size")
        return layer("adaptiveavgpool2d", out=list(size) if isinstance(size, (tuple, list)) else size)
    if name in ("avg_pool2d", "max_pool2d"):
        fields = {
            "kernel": arg(1, "kernel_size"),
            "stride": arg(2, "stride"),
            "padding": arg(3, "padding", 0),
            "ceil_mode": arg(5 if name == "avg_pool2d" else 6, "ceil_mode", False),
        }
        if name == "max_pool2d":
            fields["dilation"] = arg(4, "dilation", 1)
        elif not arg(6, "count_include_pad", True) or arg(7, "divisor_override") is not None:
            raise _Unsupported(f"'{node.name}' averages with count_include_pad=False or a divisor_override")
        return layer(
            name.replace("_", ""),
            **{k: list(v) if isinstance(v, tuple) else v for k, v in fields.items() if v not in (None, [], ())},
        )
    raise _Unsupported(f"operation '{name}' ({node.name}) has no paramcalc kind")


def _broadcast(spec: _FxSpec, node, kind: str, operands) -> None:
    """add/mul of two tensors: torch broadcasts from the right, paramcalc between per-sample shapes of
    one rank. A shorter operand gets leading 1s; a tensor without the batch whose leading 1 meets the
    batch (a (1, heads, N, N) bias on (batch, heads, N, N) scores) loses it."""
    rank = len(spec.shape(node))
    sources = []
    for a in operands:
        name, own = spec.source(a), len(spec.shape(a))
        for _ in range(abs(rank - own)):
            fix = "squeeze" if own > rank else "unsqueeze"
            name = spec.add(None, f"{node.name}_{fix}", fix, {"dim": 1}, [name])
        sources.append(name)
    spec.add(node, node.name, kind, {}, sources)


def _getitem(spec: _FxSpec, node, layer) -> None:
    import torch.fx

    producer, index = node.args
    if producer in spec.splits:
        kind, fields, of = spec.splits[producer]
        fields = {**fields, "index": index, "dim": spec.dim(of, fields["dim"])}
        spec.add(node, node.name, kind, fields, [spec.source(of)])
        return None
    if spec.full(producer) is None:
        if index == 0:  # the output of a module that returns a tuple (attention, LSTM)
            return spec.alias(node, producer)
        raise _Unsupported(f"'{node.name}' takes part {index!r} of a tuple")
    if isinstance(index, torch.fx.Node) and producer in spec.pending and len(spec.full(producer) or ()) == 2:
        spec.lookup(node, producer, index)  # table[index]: MaxViT's relative position bias
        return None
    if isinstance(index, torch.fx.Node) or producer in spec.opaque:
        spec.opaque.add(node)
        return None
    if (
        isinstance(index, tuple)
        and sum(isinstance(i, int) for i in index) == 1
        and all(isinstance(i, int) or i == slice(None) for i in index)
    ):
        dim = next(d for d, i in enumerate(index) if isinstance(i, int))
        return layer("select", dim=spec.dim(producer, dim), index=index[dim])
    if isinstance(index, int):
        return layer("select", dim=spec.dim(producer, 0), index=index)
    raise _Unsupported(f"'{node.name}' indexes a tensor with {index!r}")


def _einsum(spec: _FxSpec, node, layer) -> None:
    """The two batched matrix products attention writes with einsum (MaxViT): QKᵀ and attention·V."""
    equation, *operands = node.args
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = list(operands[0])
    lhs, _, result = equation.replace(" ", "").partition("->")
    terms = lhs.split(",")
    if len(terms) == 2 and len(operands) == 2 and len({len(terms[0]), len(terms[1]), len(result)}) == 1:
        a, b = terms
        lead = result[:-2]
        if a[:-2] == b[:-2] == lead:
            i, j = result[-2:]
            if a[-2] == i and b[-1] == j and a[-1] == b[-2]:  # (i, k) @ (k, j)
                return layer("matmul", list(operands))
            if a[-2] == i and b[-2] == j and a[-1] == b[-1]:  # (i, k) @ (j, k)ᵀ
                k = spec.source(operands[1])
                k_t = spec.add(None, f"{node.name}_k_t", "transpose", {"dim0": -2, "dim1": -1}, [k])
                spec.add(node, node.name, "matmul", {}, [spec.source(operands[0]), k_t])
                return None
    raise _Unsupported(f"einsum {equation!r} ({node.name}) is not a matrix product paramcalc can write")


def _swin(spec: _FxSpec, node, name: str) -> None:
    """torchvision's Swin functions, which it wraps so that fx does not trace into them: written out as
    the layers they compute (tests/fixtures/torch_import.json checks them against torch)."""
    import inspect

    bound = inspect.signature(node.target).bind(*node.args, **node.kwargs).arguments

    def add(kind, base, sources, **fields):
        return spec.add(None, f"{prefix}.{base}", kind, fields, sources)

    if name == "_get_relative_position_bias":
        table, index = bound["relative_position_bias_table"], bound["relative_position_index"]
        if table not in spec.pending:  # Swin V2's table is computed: its bias adds nothing to the counts
            spec.opaque.add(node)
            return None
        prefix = table.target.rpartition(".")[0]
        heads, n = spec.pending[table].shape[1], bound["window_size"][0] * bound["window_size"][1]
        y = spec.lookup(None, table, index)  # (N², heads)
        y = add("reshape", "relative_position_bias", [y], shape=[n, n, heads])
        y = add("permute", "relative_position_bias", [y], dims=[0, 3, 1, 2])
        spec.names[node] = add("unsqueeze", "relative_position_bias", [y], dim=1)  # (1, heads, N, N)
        spec.lead[node] = 0
        return None
    x = bound["input" if name == "shifted_window_attention" else "x"]
    h, w, c = spec.shape(x)
    if name == "_patch_merging_pad":  # the four 2x2 neighbours side by side: (H/2, W/2, 4C)
        if h % 2 or w % 2:
            raise _Unsupported(f"'{node.name}' pads an odd size before merging patches")
        prefix = node.name
        y = add("reshape", "reshape", [spec.source(x)], shape=[h // 2, 2, w // 2, 2, c])
        y = add("permute", "permute", [y], dims=[0, 1, 3, 4, 2, 5])
        spec.names[node] = add("reshape", "reshape", [y], shape=[h // 2, w // 2, 4 * c])
        return None
    qkv_weight, proj_weight = bound["qkv_weight"], bound["proj_weight"]
    qkv_bias, proj_bias = bound.get("qkv_bias"), bound.get("proj_bias")
    logit_scale, bias = bound.get("logit_scale"), bound["relative_position_bias"]
    (wh, ww), heads = bound["window_size"], bound["num_heads"]
    prefix = qkv_weight.target.rpartition(".")[0].rpartition(".")[0]
    pad_w, pad_h = (ww - w % ww) % ww, (wh - h % wh) % wh
    y = spec.source(x)
    if pad_w or pad_h:  # pads the bottom and the right to whole windows
        y = add("permute", "pad", [y], dims=[0, 3, 1, 2])
        y = add("zeropad2d", "pad", [y], padding=[0, pad_w, 0, pad_h])
        y = add("permute", "pad", [y], dims=[0, 2, 3, 1])
    ph, pw = h + pad_h, w + pad_w
    n, windows = wh * ww, (ph // wh) * (pw // ww)
    y = add("reshape", "windows", [y], shape=[ph // wh, wh, pw // ww, ww, c])
    y = add("permute", "windows", [y], dims=[0, 1, 3, 2, 4, 5])
    y = add("reshape", "windows", [y], shape=[windows, n, c])  # (windows, N, C); a shift (torch.roll) counts nothing
    out = spec.pending[qkv_weight].shape[0]
    spec.fold(qkv_weight, qkv_bias)
    y = add("linear", "qkv", [y], out=out, **({} if qkv_bias is not None else {"bias": False}))
    y = add("reshape", "qkv", [y], shape=[windows, n, 3, heads, c // heads])
    qkv = add("permute", "qkv", [y], dims=[0, 3, 1, 4, 2, 5])  # (3, windows, heads, N, d)
    q = add("select", "q", [qkv], dim=1, index=0)
    k = add("select", "k", [qkv], dim=1, index=1)
    k = add("transpose", "k", [k], dim0=-2, dim1=-1)
    y = add("matmul", "scores", [q, k])  # (windows, heads, N, N)
    if logit_scale is not None:  # Swin V2's cosine attention: a learned scale per head
        scale = add("unsqueeze", "logit_scale", [spec.source(logit_scale)], dim=1)
        y = add("mul", "scores", [y, scale])
    if spec.holds(bias):
        y = add("add", "scores", [y, spec.source(bias)])
    y = add("softmax", "attention", [y], dim=-1)
    v = add("select", "v", [qkv], dim=1, index=2)
    y = add("matmul", "attention", [y, v])  # (windows, heads, N, d)
    y = add("transpose", "attention", [y], dim0=2, dim1=3)
    y = add("reshape", "attention", [y], shape=[windows, n, c])
    spec.fold(proj_weight, proj_bias)
    y = add("linear", "proj", [y], out=c, **({} if proj_bias is not None else {"bias": False}))
    y = add("reshape", "windows_back", [y], shape=[ph // wh, pw // ww, wh, ww, c])
    y = add("permute", "windows_back", [y], dims=[0, 1, 3, 2, 4, 5])
    y = add("reshape", "windows_back", [y], shape=[ph, pw, c])
    if pad_w or pad_h:  # crops the padding (a negative pad)
        y = add("permute", "crop", [y], dims=[0, 3, 1, 2])
        y = add("zeropad2d", "crop", [y], padding=[0, -pad_w, 0, -pad_h])
        y = add("permute", "crop", [y], dims=[0, 2, 3, 1])
    spec.names[node] = y
    return None


def _weight_owner(module, kind, owners) -> str | None:
    """The layer that already holds this module's weight (the same module called again, or a module
    sharing the tensor, as a tied output head does): the spec says `tie:`."""
    weight = getattr(module, "weight", None)
    if weight is None or not hasattr(REGISTRY[kind], "weight_shape"):
        return None
    return owners.get(id(weight))


def _own_weight(module, kind, owners, name):
    weight = getattr(module, "weight", None)
    if weight is not None and hasattr(REGISTRY[kind], "weight_shape"):
        owners.setdefault(id(weight), name)


# ---------------------------------------------------------------- the hook fallback


def trace_hooks(model, inputs) -> tuple[dict, list, list]:
    import torch

    calls = []

    def record(name):
        def hook(module, args, output):
            out = output[0] if isinstance(output, (tuple, list)) else output
            ins = [a for a in args if isinstance(a, torch.Tensor)]
            if isinstance(out, torch.Tensor):
                calls.append((name, module, [list(a.shape[1:]) for a in ins], list(out.shape[1:])))

        return hook

    leaves, inside = [], ()
    for name, m in model.named_modules():  # parents come before their children
        if not name or (inside and name.startswith(inside)):
            continue
        if module_layer(m) is not None:  # a known kind is one layer, whatever it holds (attention)
            leaves.append((name, m))
            inside = tuple(prefix for prefix in (*inside, name + ".") if prefix)
        elif not any(True for _ in m.children()):
            leaves.append((name, m))
    unknown = sorted({type(m).__name__ for _, m in leaves if module_layer(m) is None})
    if unknown:
        raise SpecError(
            f"cannot import: torch.fx cannot trace this model, and these modules have no paramcalc "
            f"kind: {', '.join(unknown)}"
        )
    handles = [m.register_forward_hook(record(name)) for name, m in leaves]
    try:
        with torch.no_grad():
            model(*inputs)
    except Exception as e:
        raise SpecError(f"the model's forward failed: {type(e).__name__}: {e}") from None
    finally:
        for h in handles:
            h.remove()
    spec_inputs = {f"input{i}" if len(inputs) > 1 else "input": list(x.shape[1:]) for i, x in enumerate(inputs)}
    produced = [(name, shape) for name, shape in spec_inputs.items()]
    entries, used = [], set(spec_inputs)
    first_call: dict[int, str] = {}
    previous = produced[-1][0]
    for name, module, in_shapes, out_shape in calls:
        layer = module_layer(module)
        assert layer is not None  # every leaf without a kind was refused above
        kind = next(iter(layer))
        fields = dict(layer[kind])
        unique, n = name, 1
        while unique in used:
            n += 1
            unique = f"{name}_{n}"
        used.add(unique)
        if in_shapes:
            # the latest layer (or input) whose output has this shape
            source = next((p for p, s in reversed(produced) if s == in_shapes[0]), None)
            if source is None:
                raise SpecError(
                    f"cannot import: '{name}' reads a {in_shapes[0]} tensor that no module made "
                    f"(a functional operation fx could not trace)"
                )
            if source != previous:
                fields["from"] = source
        owner = _weight_owner(module, kind, first_call)
        if owner:
            fields["tie"] = owner
        _own_weight(module, kind, first_call, unique)
        fields["name"] = unique
        entries.append({kind: fields})
        produced.append((unique, out_shape))
        previous = unique
    if not entries:
        raise SpecError("cannot import: the model called no module")
    return spec_inputs, entries, [previous]


# ---------------------------------------------------------------- entry point


def spec_from_model(model, shapes, tokens: int | None = None, name: str = "model") -> tuple[dict, str]:
    """(spec document, how it was traced: "fx" or "hooks")."""
    inputs = example_inputs(shapes, tokens)
    try:
        spec_inputs, entries, outputs = trace_fx(model, inputs)
        how = "fx"
    except _Unsupported as e:
        reason = str(e)
        spec_inputs, entries, outputs = trace_hooks(model, inputs)
        how = f"hooks ({reason})"
    doc: dict = {"name": name}
    if len(spec_inputs) == 1:
        doc["input"] = next(iter(spec_inputs.values()))
        renamed = next(iter(spec_inputs))
        for entry in entries:
            fields = next(iter(entry.values()))
            if fields.get("from") == renamed:
                fields["from"] = "input"
            elif isinstance(fields.get("from"), list):
                fields["from"] = ["input" if f == renamed else f for f in fields["from"]]
    else:
        doc["inputs"] = spec_inputs
    if len(outputs) > 1 or outputs[0] != next(iter(entries[-1].values()))["name"]:
        doc["outputs"] = outputs
    doc["layers"] = entries
    return doc, how


def _unread(entries) -> int:
    """Declared tensors (parameter, buffer) that no layer reads `from:`."""
    read = set()
    for entry in entries:
        for fields in entry.values():
            source = fields.get("from")
            read.update(source if isinstance(source, list) else [source])
    return sum(
        1
        for entry in entries
        for kind, fields in entry.items()
        if kind in ("parameter", "buffer") and fields["name"] not in read
    )


def import_torch(target: str, input_shape: str, tokens: int | None = None) -> str:
    import yaml

    from ..factory import load_factory

    need_torch()
    shapes = parse_shapes(input_shape)
    model = load_factory(target)
    name = target.rpartition(":")[2]
    doc, how = spec_from_model(model, shapes, tokens, name)
    header = (
        f"# Imported by paramcalc from {target!r} (traced with {'torch.fx' if how == 'fx' else 'module hooks'}).\n"
        "# Names are the model's module paths.\n"
    )
    if how != "fx":
        header += (
            "# torch.fx could not trace it, so forward hooks recorded the module calls: operations between\n"
            "# modules (additions, concatenations) are not in this spec; params and buffers are exact.\n"
        )
    unread = _unread(doc["layers"])
    if unread:
        header += (
            f"# {unread} {'tensors' if unread > 1 else 'tensor'} that the traced forward never reads (of modules eval\n"
            "# mode never calls) declared at the end as parameters and buffers, so the totals are the model's.\n"
        )
    return header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, default_flow_style=None, width=110)
