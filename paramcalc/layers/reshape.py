"""Layers that keep values and change the shape: flatten, identity, reshape/view, unflatten, permute,
transpose, squeeze, unsqueeze, select."""

from __future__ import annotations

from ..errors import ShapeError
from .base import (  # for annotations
    REQUIRED,
    SAME,
    Context,
    Layer,
    Moved,
    ReachOf,
    Saved,
    Shape,
    arg,
    fmt_shape,
    kind_class,
    normalize_dim,
    prod,
    reshape_strides,
)
from .binding import Call, call, dims, hole, q


def view(self, shapes: list[Shape], out: Shape, ctx: Context) -> Saved:
    """A view (or PyTorch's identity): shares its input's storage and keeps nothing."""
    return Saved(alias=True)


def reshaped(self, shape: Shape, strides: Shape, out: Shape) -> Shape | None:
    """torch.reshape's layout: a view where the input's strides allow one, else a copy (None)."""
    return reshape_strides(shape, strides, out)


@kind_class
class Flatten(Layer):
    """Merges dims start_dim..end_dim into one. Dims count as in PyTorch, the batch being dim 0:
    the default start_dim=1, end_dim=-1 turns a (C, H, W) sample into (C·H·W)."""

    start_dim: int = arg(1, "int", "first dim to merge (batch = 0, so 1 is the first per-sample dim)", min=None)
    end_dim: int = arg(-1, "int", "last dim to merge (negative counts from the end)", min=None)

    kind, torch_name = "flatten", "Flatten"
    saves, view_strides = view, reshaped
    formulas = {
        "output": "per-sample dims start_dim-1 .. end_dim-1 multiplied into one",
        "weights": "0",
        "bias": "0",
        "macs": "0",
    }

    def output_shape(self, shapes: list[Shape]) -> Shape:
        (shape,) = shapes
        start = normalize_dim(self.start_dim, shape, "start_dim")
        end = normalize_dim(self.end_dim, shape, "end_dim")
        if start > end:
            raise ShapeError(f"start_dim={self.start_dim} comes after end_dim={self.end_dim}")
        return (*shape[:start], prod(shape[start : end + 1]), *shape[end + 1 :])


@kind_class
class Identity(Layer):
    """Passes its input through unchanged."""

    kind, torch_name = "identity", "Identity"
    saves = view
    formulas = {"output": "same as input", "weights": "0", "bias": "0", "macs": "0"}

    def output_shape(self, shapes: list[Shape]) -> Shape:
        return shapes[0]

    def reach(self, shapes: list[Shape], out: Shape) -> ReachOf:
        return SAME


def _resolve_sizes(sizes: tuple, total: int, what: str) -> tuple:
    """A target shape with at most one -1, filled in so its product is `total`."""
    if sum(s == -1 for s in sizes) > 1 or any(s < -1 or s == 0 for s in sizes):
        raise ShapeError(f"{what} {list(sizes)} may hold positive sizes and at most one -1")
    known = prod(s for s in sizes if s != -1)
    if -1 in sizes:
        if total % known:
            raise ShapeError(f"{what} {list(sizes)} cannot hold {total} elements")
        sizes = tuple(total // known if s == -1 else s for s in sizes)
    if prod(sizes) != total:
        raise ShapeError(f"{what} {list(sizes)} holds {prod(sizes)} elements, the input {total}")
    return sizes


@kind_class
class Reshape(Layer):
    """Reshapes each sample (the batch dim is kept): `reshape: [196, 768]`; one entry may be -1."""

    shape: tuple[int, ...] = arg(REQUIRED, "dims", "the per-sample target shape (no batch dim); one entry may be -1")

    kind, torch_name, primary = "reshape", "torch.reshape", "shape"
    saves, view_strides = view, reshaped
    formulas = {"output": "shape, with -1 inferred", "weights": "0", "bias": "0", "macs": "0"}

    torch_writes_shape = True

    def torch_forward(self, args: list[str], in_shapes: list[Shape], out_shape: Shape) -> str | None:
        x = args[0]
        return f"{x}.{self.kind}({x}.shape[0], {', '.join(q(s) for s in out_shape)})"  # reshape or view

    def output_shape(self, shapes: list[Shape]) -> Shape:
        return _resolve_sizes(self.shape, prod(shapes[0]), "shape")


class View(Reshape):
    """Tensor.view: the same as reshape for counting (and for memory: where PyTorch's view refuses a
    layout, such as a permuted tensor's, reshape's copy is counted)."""

    kind, torch_name = "view", "Tensor.view"


@kind_class
class Unflatten(Layer):
    """Splits dim into sizes (one may be -1): the inverse of flatten."""

    dim: int = arg(REQUIRED, "int", "dim to split (batch = 0)", min=None)
    sizes: tuple[int, ...] = arg(REQUIRED, "dims", "the sizes it becomes", aka=("unflattened_size",))

    kind, torch_name = "unflatten", "Unflatten"
    saves, view_strides = view, reshaped
    formulas = {"output": "dim replaced by sizes", "weights": "0", "bias": "0", "macs": "0"}

    def torch_module(self, in_shapes: list[Shape]) -> Call | None:
        return call(self.torch_name, [hole(self.dim, "dim"), hole(self.sizes, "unflattened_size")], [])

    def output_shape(self, shapes: list[Shape]) -> Shape:
        shape = shapes[0]
        d = normalize_dim(self.dim, shape)
        return (*shape[:d], *_resolve_sizes(self.sizes, shape[d], "sizes"), *shape[d + 1 :])


@kind_class
class Permute(Layer):
    """Reorders dims; as in PyTorch the list includes the batch dim, which must stay first
    (`permute: [0, 2, 3, 1]` turns (C, H, W) into (H, W, C))."""

    dims: tuple[int, ...] = arg(REQUIRED, "dims", "the new order of all dims, batch (0) first")

    kind, torch_name, primary = "permute", "torch.permute", "dims"
    saves = view
    formulas = {"output": "input dims in the new order", "weights": "0", "bias": "0", "macs": "0"}

    def torch_forward(self, args: list[str], in_shapes: list[Shape], out_shape: Shape) -> str | None:
        return f"{args[0]}.permute({', '.join(q(d) for d in self.dims)})"

    def output_shape(self, shapes: list[Shape]) -> Shape:
        shape = shapes[0]
        rank = len(shape) + 1
        full = [d + rank if d < 0 else d for d in self.dims]
        if sorted(full) != list(range(rank)):
            raise ShapeError(
                f"dims {list(self.dims)} must name each of the {rank} dims (batch + {fmt_shape(shape)}) once"
            )
        if full[0] != 0:
            raise ShapeError(f"dims {list(self.dims)} move the batch dimension; it must stay first (0)")
        return tuple(shape[d - 1] for d in full[1:])

    def reach(self, shapes: list[Shape], out: Shape) -> ReachOf:
        rank = len(shapes[0]) + 1
        return Moved(tuple((d + rank if d < 0 else d) - 1 for d in self.dims[1:]))

    def view_strides(self, shape: Shape, strides: Shape, out: Shape) -> Shape | None:
        return tuple(strides[d] for d in self.dims)  # dims count the batch: index the batched strides


@kind_class
class Transpose(Layer):
    """Swaps two dims (batch = 0, which cannot move)."""

    dim0: int = arg(REQUIRED, "int", "a dim", min=None)
    dim1: int = arg(REQUIRED, "int", "the other dim", min=None)

    kind, torch_name = "transpose", "torch.transpose"
    saves = view
    formulas = {"output": "input with dim0 and dim1 swapped", "weights": "0", "bias": "0", "macs": "0"}

    def torch_forward(self, args: list[str], in_shapes: list[Shape], out_shape: Shape) -> str | None:
        return f"{args[0]}.transpose({q(self.dim0)}, {q(self.dim1)})"

    def output_shape(self, shapes: list[Shape]) -> Shape:
        shape = list(shapes[0])
        a, b = normalize_dim(self.dim0, shapes[0], "dim0"), normalize_dim(self.dim1, shapes[0], "dim1")
        shape[a], shape[b] = shape[b], shape[a]
        return tuple(shape)

    def reach(self, shapes: list[Shape], out: Shape) -> ReachOf:
        order = list(range(len(shapes[0])))
        a, b = normalize_dim(self.dim0, shapes[0], "dim0"), normalize_dim(self.dim1, shapes[0], "dim1")
        order[a], order[b] = order[b], order[a]
        return Moved(tuple(order))

    def view_strides(self, shape: Shape, strides: Shape, out: Shape) -> Shape | None:
        moved = list(strides)
        a, b = normalize_dim(self.dim0, shape[1:], "dim0") + 1, normalize_dim(self.dim1, shape[1:], "dim1") + 1
        moved[a], moved[b] = moved[b], moved[a]
        return tuple(moved)


@kind_class
class Squeeze(Layer):
    """Removes size-1 dims: all of them, or the given ones (a dim that is not 1 stays)."""

    dim: tuple[int, ...] | None = arg(None, "dims", "a dim or a list (batch = 0); null: every size-1 dim", min=None)

    kind, torch_name, primary = "squeeze", "torch.squeeze", "dim"
    saves, view_strides = view, reshaped
    formulas = {"output": "input without its size-1 dims", "weights": "0", "bias": "0", "macs": "0"}

    def torch_forward(self, args: list[str], in_shapes: list[Shape], out_shape: Shape) -> str | None:
        shape = in_shapes[0]
        if self.dim is None:
            drop = [i for i, s in enumerate(shape) if s == 1]
        else:
            drop = sorted({d for d in (normalize_dim(v, shape) for v in self.dim) if shape[d] == 1})
        if not drop:
            return args[0]
        return f"{args[0]}.squeeze({dims([d + 1 for d in drop])})"  # per-sample dims -> the batched tensor's

    def output_shape(self, shapes: list[Shape]) -> Shape:
        shape = shapes[0]
        if self.dim is None:
            drop = {i for i, s in enumerate(shape) if s == 1}
        else:
            drop = {d for d in (normalize_dim(x, shape) for x in self.dim) if shape[d] == 1}
        return tuple(s for i, s in enumerate(shape) if i not in drop)


@kind_class
class Unsqueeze(Layer):
    """Inserts a size-1 dim at dim (batch = 0; negative counts from the end of the result)."""

    dim: int = arg(REQUIRED, "int", "where the new dim goes", min=None)

    kind, torch_name, primary = "unsqueeze", "torch.unsqueeze", "dim"
    saves, view_strides = view, reshaped
    formulas = {"output": "input with a 1 inserted", "weights": "0", "bias": "0", "macs": "0"}

    def torch_forward(self, args: list[str], in_shapes: list[Shape], out_shape: Shape) -> str | None:
        return f"{args[0]}.unsqueeze({q(self.dim)})"

    def output_shape(self, shapes: list[Shape]) -> Shape:
        shape = shapes[0]
        d = normalize_dim(self.dim, (*shape, 1))
        return (*shape[:d], 1, *shape[d:])


@kind_class
class Select(Layer):
    """Takes one index along dim, removing it (ViT's class token: `select: {dim: 1, index: 0}`)."""

    dim: int = arg(REQUIRED, "int", "dim to index (batch = 0)", min=None)
    index: int = arg(REQUIRED, "int", "which entry (negative counts from the end)", min=None)

    kind, torch_name = "select", "torch.select"
    saves = view
    formulas = {"output": "input without dim", "weights": "0", "bias": "0", "macs": "0"}

    def torch_forward(self, args: list[str], in_shapes: list[Shape], out_shape: Shape) -> str | None:
        return f"{args[0]}.select({q(self.dim)}, {q(self.index)})"

    def output_shape(self, shapes: list[Shape]) -> Shape:
        shape = shapes[0]
        d = normalize_dim(self.dim, shape)
        if not -shape[d] <= self.index < shape[d]:
            raise ShapeError(f"index {self.index} is out of range for dim {self.dim} of size {shape[d]}")
        return (*shape[:d], *shape[d + 1 :])

    def view_strides(self, shape: Shape, strides: Shape, out: Shape) -> Shape | None:
        d = normalize_dim(self.dim, shape[1:]) + 1
        return (*strides[:d], *strides[d + 1 :])


KINDS = [Flatten, Identity, Reshape, View, Unflatten, Permute, Transpose, Squeeze, Unsqueeze, Select]
