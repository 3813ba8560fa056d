"""fx's call_function and call_method nodes -> layers: one handler per family of operations."""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING

from . import Unsupported
from .swin import swin

if TYPE_CHECKING:
    from .fx import FxSpec


_SPLITTERS = ("chunk", "split", "split_with_sizes", "unbind")  # a tuple of tensors, taken one by one with getitem
# zero-cost elementwise operations: with a constant (or a tensor the spec does not hold) they keep the
# spec tensor's shape and add nothing to the counts
_ELEMENTWISE = {
    "add", "iadd", "sub", "isub", "mul", "imul", "truediv", "itruediv", "div", "floordiv", "pow", "neg",
    "exp", "clamp", "masked_fill", "sqrt", "rsqrt", "abs", "normalize",
}  # fmt: skip


def _name(fn) -> str:
    packet = getattr(fn, "_overloadpacket", None)  # an ATen operation: aten.conv2d.default -> conv2d
    if packet is not None:
        name = packet.__name__
        return name[:-1] if name.endswith("_") and not name.startswith("_") else name  # relu_ computes relu
    return fn if isinstance(fn, str) else getattr(fn, "__name__", repr(fn))


class OpCall:
    """One call_function / call_method node being written: its arguments, and `x`, the first tensor
    the spec holds among them."""

    def __init__(self, spec: FxSpec, node) -> None:
        self.spec, self.node = spec, node
        self.fn, self.args, self.kwargs = node.target, node.args, node.kwargs
        self.name = _name(node.target)
        self.x = None

    def arg(self, i: int, key: str, default=None):
        return self.args[i] if len(self.args) > i else self.kwargs.get(key, default)

    def layer(self, kind: str, sources=None, **fields) -> None:
        spec = self.spec
        spec.add(self.node, self.node.name, kind, fields, [spec.source(t) for t in (sources or [self.x])])

    def dim(self, d: int) -> int:
        return self.spec.dim(self.x, d)

    def refuse(self, why: str):
        return Unsupported(f"'{self.node.name}' ({self.name}) {why}")


def operation(spec: FxSpec, node) -> None:
    """A call_function / call_method node -> a layer, an alias of its input (views, zero-cost
    elementwise work with constants), or nothing (shape queries, checks)."""
    call = OpCall(spec, node)
    if call.name in _SPLITTERS and spec.holds(call.args[0]):
        return _split(call)
    if spec.full(node) is None:
        return None  # shape queries (x.shape, size()) and checks compute no tensor
    if call.fn is operator.getitem and node.args[0] in spec.splits:
        return _getitem(spec, node, None)
    inputs = [a for a in node.all_input_nodes if spec.holds(a)]
    if not inputs:
        if any(a in spec.opaque for a in node.all_input_nodes) or not node.all_input_nodes:
            spec.opaque.add(node)  # built from what the spec does not hold (or from nothing): a constant to it
            return None
        raise call.refuse("reads no tensor the spec holds")
    call.x = inputs[0]
    if any(a in spec.moved for a in inputs) and call.name not in _ON_MOVED:
        raise call.refuse("works on a tensor whose batch dimension was moved")
    handler = spec.handlers.get(call.name) or _handlers().get(call.fn if _hashable(call.fn) else None)
    handler = handler or _BY_NAME.get(call.name)
    if handler is None:
        raise Unsupported(f"operation '{call.name}' ({node.name}) has no paramcalc kind")
    handler(call)
    return None


def _hashable(fn) -> bool:
    if isinstance(fn, str):
        return False
    try:
        hash(fn)
    except TypeError:
        return False
    return True


_ON_MOVED = ("select", "contiguous", "clone", "alias")  # besides the splitters: they keep or restore the batch


def _split(call: OpCall) -> None:
    """chunk / split / unbind: a tuple of tensors, each taken by a getitem node."""
    x = call.args[0]
    if call.name == "unbind":
        call.spec.splits[call.node] = ("select", {"dim": call.arg(1, "dim", 0)}, x)
    elif call.name == "chunk":
        call.spec.splits[call.node] = ("chunk", {"chunks": call.arg(1, "chunks"), "dim": call.arg(2, "dim", 0)}, x)
    else:  # split, split_with_sizes
        size = call.arg(1, "split_size_or_sections")
        call.spec.splits[call.node] = ("split", {"size": size, "dim": call.arg(2, "dim", 0)}, x)


def _elementwise(call: OpCall) -> None:
    spec, name = call.spec, call.name
    held = [a for a in call.args if spec.holds(a)]
    if len(held) == 2 and name in ("add", "iadd", "mul", "imul"):
        return _broadcast(spec, call.node, "add" if "add" in name else "mul", held)
    factor = [a for a in call.args if a is not held[0]] if len(held) == 1 else []
    if name in ("mul", "imul"):
        if len(held) == 1 and len(factor) == 1 and type(factor[0]) in (int, float):  # q * head_dim ** -0.5
            return call.layer("scale", [held[0]], by=factor[0])  # a new tensor, as memory counts it
    if len(held) == 1 and spec.shape(held[0]) == spec.shape(call.node):
        return spec.alias(call.node, held[0])  # with a constant: the counts do not change
    raise call.refuse(f"of {len(held)} tensors has no paramcalc kind")


def _cat(call: OpCall) -> None:
    seq = list(call.args[0])
    if len(seq) == 1:
        return call.spec.alias(call.node, seq[0])  # torch.cat of one tensor is that tensor
    return call.layer("concat", seq, dim=call.spec.dim(seq[0], call.arg(1, "dim", 0)))


def _flatten(call: OpCall) -> None:
    start, end = call.dim(call.arg(1, "start_dim", 0)), call.dim(call.arg(2, "end_dim", -1))
    if start == 0:
        raise call.refuse("flattens the batch dimension")
    return call.layer("flatten", start_dim=start, end_dim=end)


def _reshape(call: OpCall) -> None:
    """A view keeps the per-sample element count; one that folds the batch into its first dim (a window
    partition, `view(-1, ws, ws, C)`) is written with its whole shape, the windows a per-sample dim."""
    spec, node = call.spec, call.node
    full, elements = spec.full(node) or [], _numel(spec.shape(call.x))
    out = spec.shape(node)
    if _numel(out) != elements:
        if _numel(full) != elements or node not in spec.batched:
            raise call.refuse(f"reshapes {spec.shape(call.x)} to {out}, another number of elements per sample")
        spec.folded.add(node)
        spec.lead[node] = 0
        out = full
    return call.layer("reshape", shape=out)


def _numel(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _permute(call: OpCall) -> None:
    """A permute; one that moves the batch dim (attention's (B, N, 3, heads, d) -> (3, B, heads, N, d))
    is written over the per-sample dims, and the batch's new place is kept for the select that follows."""
    spec, args = call.spec, call.args
    dims = list(args[1:] if not isinstance(args[1], (tuple, list)) else args[1])
    dims = [d % len(dims) for d in dims]
    if spec.lead[call.x] == 0:
        dims = [0, *(d + 1 for d in dims)]
    elif dims[0] != 0:
        call.layer("permute", dims=[0, *(d for d in dims if d != 0)])
        spec.moved[call.node] = dims.index(0)
        return None
    return call.layer("permute", dims=dims)


def _transpose(call: OpCall) -> None:
    return call.layer("transpose", dim0=call.dim(call.args[1]), dim1=call.dim(call.args[2]))


def _same(call: OpCall) -> None:
    """Values or the batch only change: the per-sample shape is kept."""
    before, after = call.spec.shape(call.x), call.spec.shape(call.node)
    if before != after:  # expand over a non-batch dim repeats the tensor: no kind does that
        raise call.refuse(f"changes the per-sample shape {before} to {after}")
    return call.spec.alias(call.node, call.x)


def _mean(call: OpCall) -> None:
    dim = call.arg(1, "dim")
    dims = [call.dim(d) for d in dim] if isinstance(dim, (tuple, list)) else call.dim(dim)
    return call.layer("mean", dim=dims, keepdim=bool(call.arg(2, "keepdim", False)))


def _unsqueeze(call: OpCall) -> None:
    return call.layer("unsqueeze", dim=call.dim(call.args[1]))


def _squeeze(call: OpCall) -> None:
    dim = call.args[1] if len(call.args) > 1 else None
    if isinstance(dim, (list, tuple)):  # ATen's squeeze.dims
        dim = dim[0] if len(dim) == 1 else None
    if dim is None:
        raise call.refuse("squeezes several dims")
    return call.layer("squeeze", dim=call.dim(dim))


def _einsum_call(call: OpCall) -> None:
    return _einsum(call.spec, call.node, call.layer)


def _getitem_call(call: OpCall) -> None:
    return _getitem(call.spec, call.node, call.layer)


def _swin_call(call: OpCall) -> None:
    return swin(call.spec, call.node, call.name)


def _stochastic_depth(call: OpCall) -> None:  # torchvision.ops, wrapped for fx
    return call.layer("stochasticdepth", p=call.arg(1, "p", 0.0), mode=call.arg(2, "mode", "row"))


def _softmax(call: OpCall) -> None:
    return call.layer("softmax" if call.name == "softmax" else "logsoftmax", dim=call.dim(call.arg(1, "dim")))


def _adaptive_avg_pool2d(call: OpCall) -> None:
    size = call.arg(1, "output_size")
    return call.layer("adaptiveavgpool2d", out=list(size) if isinstance(size, (tuple, list)) else size)


def _pool2d(call: OpCall) -> None:
    name = call.name
    fields = {
        "kernel": call.arg(1, "kernel_size"),
        "stride": call.arg(2, "stride"),
        "padding": call.arg(3, "padding", 0),
        "ceil_mode": call.arg(4 if name == "avg_pool2d" else 5, "ceil_mode", False),
    }
    if name != "avg_pool2d":  # max_pool2d, and ATen's max_pool2d_with_indices (its output is item 0)
        fields["dilation"] = call.arg(4, "dilation", 1)
        name = "max_pool2d"
    elif not call.arg(5, "count_include_pad", True) or call.arg(6, "divisor_override") is not None:
        raise call.refuse("averages with count_include_pad=False or a divisor_override")
    fields = {k: list(v) if isinstance(v, tuple) else v for k, v in fields.items() if v not in (None, [], ())}
    return call.layer(name.replace("_", ""), **fields)


def _interpolate(call: OpCall) -> None:
    """F.interpolate (segmentation heads' final resize): an upsample to the traced size."""
    mode = call.arg(3, "mode", "nearest")
    fields: dict = {"size": call.spec.shape(call.node)[1:]}
    if mode != "nearest":
        fields["mode"] = mode
    align = call.arg(4, "align_corners")
    if align is not None:
        fields["align_corners"] = align
    return call.layer("upsample", **fields)


_ACTIVATIONS = {
    "relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh", "gelu": "gelu", "silu": "silu",
    "hardswish": "hardswish", "hardsigmoid": "hardsigmoid", "relu6": "relu6",
}  # fmt: skip


def _activation(call: OpCall) -> None:
    return call.layer(_ACTIVATIONS[call.name])


_BY_NAME = {
    "shifted_window_attention": _swin_call,
    "_patch_merging_pad": _swin_call,
    "_get_relative_position_bias": _swin_call,
    **dict.fromkeys(_ELEMENTWISE, _elementwise),
    "flatten": _flatten,
    "view": _reshape,
    "reshape": _reshape,
    "permute": _permute,
    "transpose": _transpose,
    "swapaxes": _transpose,
    **dict.fromkeys(("expand", "contiguous", "clone", "detach", "to", "type_as", "float", "dropout"), _same),
    **dict.fromkeys(("_to_copy", "alias", "lift_fresh_copy", "roll"), _same),  # ATen's; a shift counts nothing
    "_unsafe_view": _reshape,
    "cat": _cat,
    "max_pool2d_with_indices": _pool2d,
    "silu": _activation,
    "hardswish": _activation,
    "hardsigmoid": _activation,
    "mean": _mean,
    "unsqueeze": _unsqueeze,
    "squeeze": _squeeze,
    "einsum": _einsum_call,
    "stochastic_depth": _stochastic_depth,
    "softmax": _softmax,
    "log_softmax": _softmax,
    "relu": _activation,  # x.relu(), x.sigmoid(), x.tanh()
    "sigmoid": _activation,
    "tanh": _activation,
    "avg_pool2d": _pool2d,
    "max_pool2d": _pool2d,
}
_BY_FUNCTION: dict = {}


def _handlers() -> dict:
    """Handlers by function object (torch is imported only when an import runs)."""
    if not _BY_FUNCTION:
        import torch
        import torch.nn.functional as F

        _BY_FUNCTION.update({operator.getitem: _getitem_call, torch.cat: _cat, torch.concat: _cat})
        _BY_FUNCTION.update(dict.fromkeys((torch.add, torch.mul, torch.sub, torch.div), _elementwise))
        _BY_FUNCTION.update({F.dropout: _same, F.interpolate: _interpolate})
        _BY_FUNCTION[F.adaptive_avg_pool2d] = _adaptive_avg_pool2d
        for fn in (F.relu, torch.relu, F.gelu, torch.sigmoid, torch.tanh, F.silu, F.hardswish, F.hardsigmoid, F.relu6):
            _BY_FUNCTION[fn] = _activation
    return _BY_FUNCTION


def _broadcast(spec: FxSpec, node, kind: str, operands) -> None:
    """add/mul of two tensors: torch broadcasts from the right, paramcalc between per-sample shapes of
    one rank. A shorter operand gets leading 1s; a tensor without the batch whose leading 1 meets the
    batch (a (1, heads, N, N) bias on (batch, heads, N, N) scores) loses it."""
    spec.add(node, node.name, kind, {}, ranked(spec, node.name, len(spec.shape(node)), operands))


def ranked(spec: FxSpec, base: str, rank: int, operands) -> list[str]:
    """The operands' names, each squeezed or unsqueezed at dim 1 to the per-sample rank."""
    sources = []
    for a in operands:
        name, own = spec.source(a), len(spec.shape(a))
        for _ in range(abs(rank - own)):
            fix = "squeeze" if own > rank else "unsqueeze"
            name = spec.add(None, f"{base}_{fix}", fix, {"dim": 1}, [name])
        sources.append(name)
    return sources


def _getitem(spec: FxSpec, node, layer) -> None:
    import torch.fx

    producer, index = node.args
    if producer in spec.splits:
        kind, fields, of = spec.splits[producer]
        if isinstance(index, int) and index < 0:  # res2net's last piece: counted from the end
            index += _pieces(kind, fields, (spec.full(of) or [])[fields["dim"]])
        spec.add(
            node, node.name, kind, {**fields, "index": index, "dim": spec.dim(of, fields["dim"])}, [spec.source(of)]
        )
        spec.taken(node, of, fields["dim"], removes=kind == "select")
        return None
    if spec.full(producer) is None:
        if index == 0:  # the output of a module that returns a tuple (attention, LSTM)
            return spec.alias(node, producer)
        raise Unsupported(f"'{node.name}' takes part {index!r} of a tuple")
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
    raise Unsupported(f"'{node.name}' indexes a tensor with {index!r}")


def _pieces(kind: str, fields: dict, size: int) -> int:
    """How many tensors chunk / split / unbind make of a dim of this size."""
    if kind == "select":
        return size
    if kind == "chunk":
        step = -(-size // fields["chunks"])
        return -(-size // step)
    pieces = fields["size"]
    return len(pieces) if isinstance(pieces, (list, tuple)) else -(-size // pieces)


def _einsum(spec: FxSpec, node, layer) -> None:
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
    raise Unsupported(f"einsum {equation!r} ({node.name}) is not a matrix product paramcalc can write")
