"""Graph operations: merging branches (add, mul, concat), scaling by a constant, taking parts (split, chunk), and
reshuffles that keep the element count (channel_shuffle, mean, stochastic_depth)."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import FieldError, ShapeError
from .base import (  # for annotations
    GLOBAL,
    REQUIRED,
    SAME,
    Context,
    Layer,
    ReachOf,
    Saved,
    Shape,
    arg,
    expect_rank,
    fmt_shape,
    kind_class,
    normalize_dim,
)
from .binding import Call, call, dims, hole, q

NONE = {"weights": "0", "bias": "0", "macs": "0 (elementwise work is not counted)"}


def _shapes(shapes) -> str:
    return " and ".join(fmt_shape(s) for s in shapes)


def _broadcast(shapes):
    """torch's broadcasting of same-rank per-sample shapes (each dim equal, or 1), or None."""
    if len({len(s) for s in shapes}) > 1:
        return None
    out = []
    for sizes in zip(*shapes):
        big = set(sizes) - {1}
        if len(big) > 1:
            return None
        out.append(big.pop() if big else 1)
    return tuple(out)


@kind_class
class Add(Layer):
    """Elementwise sum of two or more inputs: a residual shortcut (same shapes), or with
    broadcasting, e.g. Swin's (1, heads, N, N) position bias added to (windows, heads, N, N) scores."""

    elementwise = True
    kind, torch_name, arity = "add", "torch.add", (2, None)
    tensor_parallel = "replicated"
    formulas = {"output": "the common (broadcast) input shape", **NONE}

    def torch_forward(self, args: list[str], in_shapes: list[Shape], out_shape: Shape) -> str | None:
        return " + ".join(args)

    def reach(self, shapes: list[Shape], out: Shape) -> ReachOf:
        return SAME

    def output_shape(self, shapes: list[Shape]) -> Shape:
        out = _broadcast(shapes)
        if out is None:
            raise ShapeError(
                f"inputs must have the same shape, or broadcast (same number of dims, each dim "
                f"equal or 1), found {_shapes(shapes)}"
            )
        return out


@kind_class
class Mul(Layer):
    """Elementwise product with broadcasting (size-1 dims stretch), e.g. squeeze-excitation's
    (C, 1, 1) scale times a (C, H, W) feature map."""

    elementwise = True
    kind, torch_name, arity = "mul", "torch.mul", (2, None)
    formulas = {"output": "the broadcast shape of the inputs (same rank; each dim equal or 1)", **NONE}

    def torch_forward(self, args: list[str], in_shapes: list[Shape], out_shape: Shape) -> str | None:
        return " * ".join(args)

    def reach(self, shapes: list[Shape], out: Shape) -> ReachOf:
        return SAME

    def output_shape(self, shapes: list[Shape]) -> Shape:
        if len({len(s) for s in shapes}) > 1:
            raise ShapeError(f"inputs must have the same number of dims to broadcast, found {_shapes(shapes)}")
        out = _broadcast(shapes)
        if out is None:
            raise ShapeError(f"inputs do not broadcast (each dim must match or be 1), found {_shapes(shapes)}")
        return out

    def saves(self, shapes: list[Shape], out: Shape, ctx: Context) -> Saved:
        return Saved(inputs=tuple(range(len(shapes))))  # each factor, for the other's gradient


@kind_class
class Scale(Layer):
    """Multiplies by a constant number, as torch's `q * head_dim ** -0.5` scales attention's queries
    (torchvision's Swin): a new tensor, and nothing kept for backward."""

    by: float = arg(REQUIRED, "float", "the constant factor", counts=False)

    elementwise = True
    kind, torch_name, primary = "scale", "torch.mul", "by"
    formulas = {"output": "same as input", **NONE}

    def torch_forward(self, args: list[str], in_shapes: list[Shape], out_shape: Shape) -> str | None:
        return f"{args[0]} * {q(self.by)}"  # q: .inf is float("inf")

    def reach(self, shapes: list[Shape], out: Shape) -> ReachOf:
        return SAME

    def output_shape(self, shapes: list[Shape]) -> Shape:
        return shapes[0]


@kind_class
class Concat(Layer):
    """Joins two or more inputs along dim (channels by default); all other dims must match."""

    dim: int = arg(1, "int", "dim to join along (batch = 0, so 1 is channels)", min=None, aka=("axis",))

    kind, torch_name, primary, arity = "concat", "torch.cat", "dim", (2, None)
    formulas = {"output": "inputs' shape with dim summed", **NONE}

    torch_equal_batches = True  # torch.cat does not broadcast: a parameter's batch of 1 is expanded

    def torch_forward(self, args: list[str], in_shapes: list[Shape], out_shape: Shape) -> str | None:
        return f"torch.cat([{', '.join(args)}], dim={q(self.dim)})"

    def reach(self, shapes: list[Shape], out: Shape) -> ReachOf:
        return SAME

    def output_shape(self, shapes: list[Shape]) -> Shape:
        if len({len(s) for s in shapes}) > 1:
            raise ShapeError(f"inputs must have the same number of dims, found {_shapes(shapes)}")
        d = normalize_dim(self.dim, shapes[0])
        rest = {s[:d] + s[d + 1 :] for s in shapes}
        if len(rest) > 1:
            raise ShapeError(f"inputs must match in every dim but dim {self.dim}, found {_shapes(shapes)}")
        first = shapes[0]
        return (*first[:d], sum(s[d] for s in shapes), *first[d + 1 :])


class _EqualPieces:
    """The pieces of a dim cut every `step` (the last may be smaller), without listing them: a
    dim may have 2^62 of them."""

    def __init__(self, length: int, step: int):
        self.length, self.step = length, step

    def __len__(self) -> int:
        return -(-self.length // self.step)

    def __getitem__(self, i: int) -> int:
        return min(self.step, self.length - i * self.step)


@kind_class
class Split(Layer):
    """Takes one piece of torch.split(x, size, dim): pieces of `size` (the last may be smaller),
    or of the listed sizes, which must add up to the dim."""

    size: int | tuple[int, ...] = arg(
        REQUIRED, "int_or_ints", "piece size, or a list of piece sizes", aka=("split_size_or_sections",)
    )
    index: int = arg(0, "int", "which piece to take (0-based)", min=0)
    dim: int = arg(1, "int", "dim to split (batch = 0, so 1 is channels)", min=None)

    kind, torch_name, primary = "split", "torch.split", "size"
    formulas = {"output": "input with dim replaced by the piece's size", **NONE}

    def torch_forward(self, args: list[str], in_shapes: list[Shape], out_shape: Shape) -> str | None:
        size = list(self.size) if isinstance(self.size, tuple) else self.size
        return f"torch.split({args[0]}, {q(size)}, dim={q(self.dim)})[{q(self.index)}]"

    def validate(self) -> None:
        smallest = min(self.size) if isinstance(self.size, tuple) else self.size
        if smallest < 1:
            raise FieldError.of_value("size", f"expects positive piece sizes, found {self.size}")

    def pieces(self, length: int) -> Sequence[int] | _EqualPieces:
        if isinstance(self.size, tuple):
            if sum(self.size) != length:
                raise ShapeError(
                    f"piece sizes {list(self.size)} add up to {sum(self.size)}, not the dim's size {length}"
                )
            return list(self.size)
        return _EqualPieces(length, self.size)

    def reach(self, shapes: list[Shape], out: Shape) -> ReachOf:
        return SAME

    def output_shape(self, shapes: list[Shape]) -> Shape:
        shape = shapes[0]
        d = normalize_dim(self.dim, shape)
        pieces = self.pieces(shape[d])
        if self.index >= len(pieces):
            raise ShapeError(f"index {self.index} is past the last of {len(pieces)} pieces of dim {self.dim}")
        return (*shape[:d], pieces[self.index], *shape[d + 1 :])

    def saves(self, shapes: list[Shape], out: Shape, ctx: Context) -> Saved:
        return Saved(alias=True)  # a view


@kind_class
class Chunk(Split):
    """Takes one piece of torch.chunk(x, chunks, dim): pieces of ceil(size / chunks)."""

    size: int | tuple[int, ...] = None  # type: ignore[assignment]  # not a field of chunk
    chunks: int = arg(REQUIRED, "int", "number of chunks")

    kind, torch_name, primary = "chunk", "torch.chunk", "chunks"

    def torch_forward(self, args: list[str], in_shapes: list[Shape], out_shape: Shape) -> str | None:
        return f"torch.chunk({args[0]}, {q(self.chunks)}, dim={q(self.dim)})[{q(self.index)}]"

    def validate(self) -> None:
        pass

    def pieces(self, length: int) -> Sequence[int] | _EqualPieces:
        return _EqualPieces(length, -(-length // self.chunks))


@kind_class
class ChannelShuffle(Layer):
    """Interleaves channels across groups (ShuffleNet); shape unchanged."""

    groups: int = arg(REQUIRED, "int", "number of groups; must divide the channels")

    kind, torch_name, primary = "channelshuffle", "ChannelShuffle", "groups"
    formulas = {"output": "same as input", **NONE}

    def torch_module(self, in_shapes: list[Shape]) -> Call | None:
        return call(self.torch_name, [hole(self.groups, "groups")], [])

    def reach(self, shapes: list[Shape], out: Shape) -> ReachOf:
        return SAME

    def output_shape(self, shapes: list[Shape]) -> Shape:
        expect_rank(shapes[0], tuple(range(2, 9)), "(C, *)")
        if shapes[0][0] % self.groups:
            raise ShapeError(f"groups={self.groups} must divide the channels, found {shapes[0][0]}")
        return shapes[0]


@kind_class
class Mean(Layer):
    """Mean over one or more dims (batch = 0); keepdim keeps them as size 1."""

    dim: tuple[int, ...] = arg(REQUIRED, "dims", "a dim or a list of dims")
    keepdim: bool = arg(False, "bool", "keep reduced dims with size 1")

    kind, torch_name, primary = "mean", "torch.mean", "dim"
    formulas = {"output": "input without (or with size 1 at) the reduced dims", **NONE}

    def torch_forward(self, args: list[str], in_shapes: list[Shape], out_shape: Shape) -> str | None:
        return f"{args[0]}.mean(dim={dims(self.dim)}, keepdim={q(self.keepdim)})"

    def reach(self, shapes: list[Shape], out: Shape) -> ReachOf:
        reduced = {normalize_dim(d, shapes[0]) for d in self.dim}
        if self.keepdim:
            return tuple(GLOBAL if d in reduced else SAME for d in range(1, len(out)))
        return GLOBAL if reduced >= set(range(1, len(shapes[0]))) else None

    def output_shape(self, shapes: list[Shape]) -> Shape:
        shape = shapes[0]
        reduced = {normalize_dim(d, shape) for d in self.dim}
        if self.keepdim:
            return tuple(1 if i in reduced else s for i, s in enumerate(shape))
        return tuple(s for i, s in enumerate(shape) if i not in reduced)


# The class export writes for stochasticdepth: torchvision's, which the exported module cannot import.
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


@kind_class
class StochasticDepth(Layer):
    """torchvision's StochasticDepth: drops a residual branch while training; a no-op for counts."""

    p: float = arg(0.0, "float", "drop probability", counts=False)
    mode: str = arg("row", "choice", "'row' or 'batch'", choices=("row", "batch"), counts=False)

    elementwise = True
    kind, torch_name, primary = "stochasticdepth", "torchvision.ops.StochasticDepth", "p"
    formulas = {"output": "same as input", **NONE}

    torch_classes = {"StochasticDepth": STOCHASTIC_DEPTH}

    def torch_module(self, in_shapes: list[Shape]) -> Call | None:
        return Call("StochasticDepth", [hole(self.p, "p"), hole(self.mode, "mode")])

    def reach(self, shapes: list[Shape], out: Shape) -> ReachOf:
        return SAME

    def output_shape(self, shapes: list[Shape]) -> Shape:
        return shapes[0]

    def saves(self, shapes: list[Shape], out: Shape, ctx: Context) -> Saved:
        if self.p == 0:
            return Saved(alias=True)  # returns its input
        return Saved(tensors=((ctx.batch if self.mode == "row" else 1, "act"),))  # the kept-or-dropped noise


KINDS = [Add, Mul, Scale, Concat, Split, Chunk, ChannelShuffle, Mean, StochasticDepth]
