"""ATen operations of a torch.export graph -> layers, for what fx's module calls said before: the
operations that hold a module's tensors (convolution, linear, norms, embedding) become the kind of that
module, named by its module path; attention (scaled_dot_product_attention) is written as the products
it computes; the rest are handled by ops.py as on the fx path."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...layers import REGISTRY

if TYPE_CHECKING:
    from .ops import OpCall


def _weighted(call: OpCall, kind: str, fields: dict, tensors, source) -> None:
    """A layer holding `tensors` (placeholders of the model's parameters and buffers; the first its
    weight), named by the module that called it, reading `source`."""
    spec, node = call.spec, call.node
    values = [spec.pending.get(t, spec.held.get(t)) for t in tensors if t is not None]
    if any(v is None for v in values):
        held = [t for t in tensors if t is not None and t not in spec.pending and t not in spec.held]
        raise call.refuse(f"reads a computed tensor where the module's own is expected ({held[0].name})")
    if any(t in spec.held for t in tensors[1:] if t is not None):
        raise call.refuse("shares a tensor other than its weight with another layer")
    weight = values[0] if values else None
    owner = spec.owners.get(id(weight)) if weight is not None and REGISTRY[kind].has_weight() else None
    if owner:
        fields["tie"] = owner
    spec.fold(*tensors)
    name = spec.add(node, spec.module_path(node) or node.name, kind, fields, [spec.source(source)])
    if weight is not None and REGISTRY[kind].has_weight():
        spec.owners.setdefault(id(weight), name)


def _shape(spec, node) -> list[int]:
    return list(spec.pending.get(node, spec.held.get(node)).shape)


def _conv(call: OpCall) -> None:
    x, weight, bias = call.args[0], call.args[1], call.arg(2, "bias")
    if weight not in call.spec.pending:
        raise call.refuse("convolves with a computed weight (weight standardisation)")
    w = _shape(call.spec, weight)
    spatial = len(w) - 2
    names = ("stride", "padding", "dilation")
    defaults = (1, 0, 1)
    fields: dict = {"out": w[0], "kernel": _one(w[2:])}
    for i, (field, default) in enumerate(zip(names, defaults)):
        value = call.arg(3 + i, field, [default] * spatial)
        if isinstance(value, str):
            raise call.refuse(f"pads '{value}'")
        value = _one(list(value) if isinstance(value, (list, tuple)) else [value] * spatial)
        if value != default:
            fields[field] = value
    groups = call.arg(6, "groups", 1)
    if groups != 1:
        fields["groups"] = groups
    if bias is None:
        fields["bias"] = False
    _weighted(call, f"conv{spatial}d", fields, [weight, bias], x)


def _one(values: list):
    return values[0] if len(set(values)) == 1 else values


def _linear(call: OpCall) -> None:
    x, weight, bias = call.args[0], call.args[1], call.arg(2, "bias")
    if weight not in call.spec.pending and weight not in call.spec.held:
        raise call.refuse("multiplies by a computed weight")
    fields: dict = {"out": _shape(call.spec, weight)[0]}
    if bias is None:
        fields["bias"] = False
    _weighted(call, "linear", fields, [weight, bias], x)


def _addmm(call: OpCall) -> None:
    """bias + x @ w with the model's own (in, out) weight: transformers' GPT-2 Conv1D, a linear layer."""
    bias, x, weight = call.args[:3]
    if weight not in call.spec.pending or bias not in call.spec.pending or len(call.args) > 3 or call.kwargs:
        raise call.refuse("is no linear layer of the model's own tensors")
    _weighted(call, "linear", {"out": _shape(call.spec, weight)[1]}, [weight, bias], x)


def _batch_norm(call: OpCall) -> None:
    x, weight, bias, mean, var = call.args[:5]
    training = call.args[5] if call.name == "batch_norm" else False
    eps = call.args[7] if call.name == "batch_norm" else call.args[6]
    rank = len(call.spec.shape(x))
    if x not in call.spec.batched:
        raise call.refuse("standardises the model's weights (weight standardisation), which no paramcalc kind does")
    if training or mean is None or rank not in (1, 2, 3, 4):
        raise call.refuse("normalises by the batch's statistics (training mode, or no running statistics)")
    fields: dict = {} if weight is not None else {"affine": False}
    if eps != 1e-5:
        fields["eps"] = eps
    _weighted(call, f"batchnorm{max(1, rank - 1)}d", fields, [weight, bias, mean, var], x)
    path = call.spec.path(mean).rpartition(".")[0]
    call.spec.account(f"{path}.num_batches_tracked" if path else "num_batches_tracked")


def _instance_norm(call: OpCall) -> None:
    """Each channel of each sample normalised over its own spatial dims (RAFT's encoders)."""
    x, weight, bias, mean, var = call.args[:5]
    rank = len(call.spec.shape(x))
    if call.arg(5, "use_input_stats", True) is not True or rank not in (2, 3, 4):
        raise call.refuse("normalises by running statistics")
    fields: dict = {} if weight is None else {"affine": True}
    if mean is not None:
        fields["track_running_stats"] = True
    eps = call.arg(7, "eps", 1e-5)
    if eps != 1e-5:
        fields["eps"] = eps
    _weighted(call, f"instancenorm{rank - 1}d", fields, [weight, bias, mean, var], x)


def _layer_norm(call: OpCall) -> None:
    x, shape, weight, bias = call.args[0], list(call.args[1]), call.arg(2, "weight"), call.arg(3, "bias")
    eps = call.arg(4, "eps", 1e-5)
    fields: dict = {} if len(shape) == 1 else {"shape": shape}
    if weight is None:
        fields["elementwise_affine"] = False
    elif bias is None:
        fields["bias"] = False
    if eps != 1e-5:
        fields["eps"] = eps
    _weighted(call, "layernorm", fields, [weight, bias], x)


def _rms_norm(call: OpCall) -> None:
    x, shape, weight, eps = call.args[0], list(call.args[1]), call.arg(2, "weight"), call.arg(3, "eps")
    fields: dict = {} if len(shape) == 1 else {"shape": shape}
    if weight is None:
        fields["elementwise_affine"] = False
    if eps is not None:
        fields["eps"] = eps
    _weighted(call, "rmsnorm", fields, [weight], x)


def _group_norm(call: OpCall) -> None:
    x, groups, weight, bias = call.args[0], call.args[1], call.arg(2, "weight"), call.arg(3, "bias")
    eps = call.arg(4, "eps", 1e-5)
    if (weight is None) != (bias is None):
        raise call.refuse("has a weight without a bias")
    fields: dict = {"groups": groups}
    if weight is None:
        fields["affine"] = False
    if eps != 1e-5:
        fields["eps"] = eps
    _weighted(call, "groupnorm", fields, [weight, bias], x)


def _embedding(call: OpCall) -> None:
    weight, indices = call.args[0], call.args[1]
    if weight not in call.spec.pending:
        raise call.refuse("looks up a computed table")
    if not call.spec.holds(indices):
        return _rows(call, weight, indices)
    num, dim = _shape(call.spec, weight)
    fields: dict = {"num": num, "dim": dim}
    padding = call.arg(2, "padding_idx", -1)
    if padding is not None and padding >= 0:
        fields["padding_idx"] = padding
    _weighted(call, "embedding", fields, [weight], indices)


def _rows(call: OpCall, weight, indices) -> None:
    """A lookup at consecutive positions the model computes (arange: GPT-2's positions): the table is
    the model's parameter, and the rows read are its slice [start, start + n)."""
    spec, node = call.spec, call.node
    start, count = spec.ranges.get(indices), (spec.full(indices) or [0])[-1]
    rows = _shape(spec, weight)[0]
    if start is None or len(_shape(spec, weight)) != 2 or not 0 <= start <= start + count <= rows:
        raise call.refuse("looks up positions that are not consecutive rows of its table")
    if start == 0 and count == rows:
        spec.alias(node, weight)
    else:
        pieces = [n for n in (start, count, rows - start - count) if n]
        size = pieces if len(set(pieces)) > 1 or rows % pieces[0] else pieces[0]
        fields = {"size": size, "index": 1 if start else 0, "dim": spec.dim(weight, 0)}
        spec.add(node, spec.module_path(node) or node.name, "split", fields, [spec.source(weight)])
    spec.lead[node] = len(spec.full(node) or []) - 2


def _prelu(call: OpCall) -> None:
    x, weight = call.args[:2]
    if weight not in call.spec.pending:
        raise call.refuse("reads a computed slope")
    count = call.spec.pending[weight].numel()
    _weighted(call, "prelu", {} if count == 1 else {"num_parameters": count}, [weight], x)


def _attention(call: OpCall) -> None:
    """softmax(q kᵀ · scale + mask) v: the two products FlopCounterMode counts for attention."""
    spec, node = call.spec, call.node
    q, k, v = call.args[:3]
    mask = call.arg(3, "attn_mask")
    if call.kwargs.get("enable_gqa") or spec.shape(q)[:-2] != spec.shape(k)[:-2]:
        raise call.refuse("shares keys and values between query heads (grouped-query attention)")
    if mask is not None and not spec.holds(mask) and mask not in spec.opaque:
        raise call.refuse("masks with a tensor the spec cannot name")
    base = node.name

    def add(kind, part, sources, **fields):
        return spec.add(None, f"{base}_{part}", kind, fields, sources)

    k_t = add("transpose", "keys", [spec.source(k)], dim0=-2, dim1=-1)
    y = add("matmul", "scores", [spec.source(q), k_t])
    if mask is not None and spec.holds(mask):
        from .ops import ranked

        y = add("add", "scores", [y, *ranked(spec, f"{base}_mask", len(spec.shape(q)), [mask])])
    y = add("softmax", "weights", [y], dim=-1)
    spec.add(node, base, "matmul", {}, [y, spec.source(v)])


def _select(call: OpCall) -> None:
    call.layer("select", dim=call.dim(call.args[1]), index=call.args[2])
    call.spec.taken(call.node, call.x, call.args[1], removes=True)


def _slice(call: OpCall) -> None:
    """x[..., a:b] as the piece of a `split` at [a, b) (rotate_half's halves, GhostNet's first channels)."""
    dim, start, end = call.arg(1, "dim", 0), call.arg(2, "start", 0) or 0, call.arg(3, "end")
    return _take(call, call.x, dim, start, end, call.arg(4, "step", 1))


def _take(call: OpCall, x, dim: int, start: int, end: int | None, step: int = 1) -> None:
    spec = call.spec
    size = spec.full(x)[dim]  # type: ignore[index]
    start, end = _clamp(start, size), size if end is None else _clamp(end, size)
    if start == 0 and end == size and step == 1:
        return spec.alias(call.node, x)
    if step != 1 or end <= start:
        raise call.refuse(f"takes [{start}:{end}] of {size} with a step")
    pieces = [n for n in (start, end - start, size - end) if n]
    fields = {"size": pieces if len(set(pieces)) > 1 or size % pieces[0] else pieces[0]}
    return call.layer("split", [x], **fields, index=1 if start else 0, dim=spec.dim(x, dim))


def _gather(call: OpCall) -> None:
    """x.gather(dim, positions) at consecutive positions (BERT's token types at its position ids): the
    slice of x they cover."""
    spec = call.spec
    x, dim, index = call.args[:3]
    full, taken = spec.full(x) or [], spec.full(index) or []
    start = spec.ranges.get(index)
    if start is None or len(full) != len(taken) or dim % len(full) != len(full) - 1 or full[:-1] != taken[:-1]:
        raise call.refuse("gathers at positions that are not consecutive")
    return _take(call, x, len(full) - 1, start, start + taken[-1])


def _clamp(i: int, size: int) -> int:
    return max(0, min(size, i + size if i < 0 else i))


def _index(call: OpCall) -> None:
    """table[index]: a learned (rows, dim) table read at an index buffer (a relative position bias)."""
    spec = call.spec
    table, indices = call.args[0], call.args[1]
    if table in spec.pending and len(indices) == 1 and len(spec.full(table) or ()) == 2 and spec.holds(indices[0]):
        spec.lookup(call.node, table, indices[0])
        return None
    raise call.refuse("indexes a tensor by a tensor, which no paramcalc kind does but an embedding lookup")


def _pad(call: OpCall) -> None:
    """constant_pad_nd(x, pad, value), or pad(x, pad, mode, value) in the constant mode."""
    pad = list(call.args[1])
    if call.name == "pad" and call.arg(2, "mode", "constant") != "constant":
        raise call.refuse(f"pads in the {call.arg(2, 'mode')!r} mode")
    value = (call.arg(3, "value") if call.name == "pad" else call.arg(2, "value")) or 0
    if not any(pad):  # Swin's padding to whole windows, where the size is whole already
        return call.spec.alias(call.node, call.x)
    if len(pad) not in (2, 4, 6) or len(pad) // 2 >= len(call.spec.shape(call.x)):
        raise call.refuse(f"pads {pad}")
    kind = f"zeropad{len(pad) // 2}d" if not value else f"constantpad{len(pad) // 2}d"
    return call.layer(kind, padding=pad, **({"value": value} if value else {}))


def _expand(call: OpCall) -> None:
    """expand over the one per-sample dim an unsqueeze just made (repeat_kv's x[:, :, None] for
    grouped-query attention): the same values as that many copies concatenated along it. Any other
    expand repeats a tensor where the model's work may grow, which no kind says: refused."""
    spec = call.spec
    before, after = spec.shape(call.x), spec.shape(call.node)
    if before == after:
        return spec.alias(call.node, call.x)
    changed = [d for d, (b, a) in enumerate(zip(before, after)) if b != a]
    x: Any = call.x
    made = x.args[1] if getattr(x.target, "__name__", "").startswith("unsqueeze") else None
    if len(before) != len(after) or len(changed) != 1 or made is None or spec.dim(call.x, made) != changed[0] + 1:
        raise call.refuse(f"changes the per-sample shape {before} to {after}")
    return call.layer("concat", [call.x] * after[changed[0]], dim=changed[0] + 1)


def _addcmul(call: OpCall) -> None:
    """input + value · t1 · t2 (timm's Affine: beta + alpha · x): the product, then the sum."""
    spec, node = call.spec, call.node
    a, t1, t2 = call.args[:3]
    if not all(spec.holds(t) for t in (a, t1, t2)) or call.arg(3, "value", 1) != 1:
        raise call.refuse("is no product and sum of tensors the spec holds")
    from .ops import ranked

    rank = len(spec.shape(node))
    product = spec.add(None, f"{node.name}_mul", "mul", {}, ranked(spec, f"{node.name}_mul", rank, [t1, t2]))
    sources = ranked(spec, node.name, rank, [a])
    spec.add(node, node.name, "add", {}, [*sources, product])


def _vector_norm(call: OpCall) -> None:
    """‖x‖ kept as a dim of size 1, that x is then divided or scaled by (F.normalize, ConvNeXt V2's global
    response norm): a per-vector factor, counted as nothing, as the fx path counts F.normalize."""
    if not call.arg(3, "keepdim", False):
        raise call.refuse("reduces a tensor to its norm")
    call.spec.opaque.add(call.node)


def _expand_as(call: OpCall) -> None:
    """A constant or a norm factor stretched to another tensor's shape (F.normalize's divisor) stays one."""
    if call.args[0] not in call.spec.opaque:
        raise call.refuse("repeats a tensor to another's shape")
    call.spec.opaque.add(call.node)


def _like(call: OpCall) -> None:
    """A tensor of constants shaped as another (Swin's shifted-window mask, x.new_zeros(size)): the
    model's input gives it its size only, so it is a constant to the spec."""
    call.spec.opaque.add(call.node)


def _matmul(call: OpCall) -> None:
    held = [a for a in call.args[:2] if call.spec.holds(a)]
    if len(held) != 2:
        raise call.refuse("multiplies by a tensor the spec does not hold")
    return call.layer("matmul", held)


def _hardtanh(call: OpCall) -> None:
    low, high = call.arg(1, "min_val", -1.0), call.arg(2, "max_val", 1.0)
    if (low, high) == (0.0, 6.0):
        return call.layer("relu6")
    return call.layer("hardtanh", min_val=low, max_val=high)


def _gelu(call: OpCall) -> None:
    approximate = call.kwargs.get("approximate", call.arg(1, "approximate", "none"))
    return call.layer("gelu", **({} if approximate == "none" else {"approximate": approximate}))


def _leaky_relu(call: OpCall) -> None:
    slope = call.arg(1, "negative_slope", 0.01)
    return call.layer("leakyrelu", **({} if slope == 0.01 else {"negative_slope": slope}))


def _upsample(call: OpCall) -> None:
    mode = {"upsample_nearest": "nearest", "upsample_bilinear": "bilinear", "upsample_bicubic": "bicubic"}
    found = next((m for prefix, m in mode.items() if call.name.startswith(prefix)), None)
    if found is None:
        raise call.refuse("resizes in a mode paramcalc does not know")
    fields: dict = {"size": call.spec.shape(call.node)[1:]}
    if found != "nearest":
        fields["mode"] = found
        fields["align_corners"] = bool(call.arg(2, "align_corners", False))
    return call.layer("upsample", **fields)


def _adaptive_avg_pool(call: OpCall) -> None:
    size = list(call.args[1])
    return call.layer(f"adaptiveavgpool{len(size)}d", out=_one(size))


HANDLERS = {
    **dict.fromkeys(("conv1d", "conv2d", "conv3d"), _conv),
    "linear": _linear,
    "addmm": _addmm,
    "batch_norm": _batch_norm,
    "_native_batch_norm_legit_no_training": _batch_norm,
    "layer_norm": _layer_norm,
    "instance_norm": _instance_norm,
    "rms_norm": _rms_norm,
    "group_norm": _group_norm,
    "embedding": _embedding,
    "prelu": _prelu,
    "_prelu_kernel": _prelu,
    "scaled_dot_product_attention": _attention,
    "select": _select,
    "slice": _slice,
    "gather": _gather,
    "expand": _expand,
    "addcmul": _addcmul,
    "linalg_vector_norm": _vector_norm,
    "expand_as": _expand_as,
    **dict.fromkeys(("new_zeros", "new_ones", "new_full", "new_empty", "zeros_like", "ones_like", "full_like"), _like),
    "index": _index,
    "constant_pad_nd": _pad,
    "pad": _pad,
    **dict.fromkeys(("matmul", "bmm", "mm"), _matmul),
    "hardtanh": _hardtanh,
    "gelu": _gelu,
    "leaky_relu": _leaky_relu,
    **dict.fromkeys(("upsample_nearest2d", "upsample_bilinear2d", "upsample_bicubic2d"), _upsample),
    **dict.fromkeys(("adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d"), _adaptive_avg_pool),
}
