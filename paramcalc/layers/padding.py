"""Padding of the last 1 to 3 dims: zeros, a constant, reflection, replication or wrapping around."""

from __future__ import annotations

from ..errors import FieldError, ShapeError
from .base import (  # for annotations
    REQUIRED,
    Context,
    Layer,
    Reach,
    ReachOf,
    Saved,
    Shape,
    arg,
    declare,
    fmt_shape,
    kind_class,
    per_dim,
)


@kind_class
class _PadNd(Layer):
    """Pads the last n dims: an int for every side, or (left, right[, top, bottom[, front, back]]),
    last dim first as in PyTorch."""

    padding: int | tuple[int, ...] = arg(
        REQUIRED, "int_or_ints", "an int, or 2·n ints: (left, right, top, bottom, front, back)"
    )

    primary = "padding"
    formulas = {"output": "each of the last n dims grows by its two paddings", "weights": "0", "bias": "0", "macs": "0"}
    negative_ok = True

    def validate(self) -> None:
        if isinstance(self.padding, tuple) and len(self.padding) != 2 * self.ndim:
            raise FieldError.of_value(
                "padding", f"expects an integer or {2 * self.ndim} integers, found {list(self.padding)}"
            )
        pads = per_dim(self.padding, 2 * self.ndim)
        if not self.negative_ok and min(pads) < 0:
            raise FieldError.of_value("padding", f"expects non-negative padding, found {list(pads)}")

    def output_shape(self, shapes: list[Shape]) -> Shape:
        shape = list(shapes[0])
        n = self.ndim
        if len(shape) not in (n, n + 1):
            raise ShapeError(f"expects a per-sample input of {n} or {n + 1} dimensions, found {fmt_shape(shape)}")
        pads = per_dim(self.padding, 2 * n)
        for i in range(n):
            left, right = pads[2 * i], pads[2 * i + 1]
            d = len(shape) - 1 - i
            self.check_side(shape[d], left, right, d)
            shape[d] += left + right
            if shape[d] < 1:
                raise ShapeError(f"padding ({left}, {right}) leaves nothing of dim {d + 1} ({shape[d] - left - right})")
        return tuple(shape)

    def check_side(self, size: int, left: int, right: int, d: int) -> None:
        pass

    def reach(self, shapes: list[Shape], out: Shape) -> ReachOf:
        pads = per_dim(self.padding, 2 * self.ndim)
        return tuple(Reach.window(1, 1, pads[2 * i]) for i in reversed(range(self.ndim)))  # last dim first


def keeps_input(self, shapes: list[Shape], out: Shape, ctx: Context) -> Saved:
    return Saved(inputs=(0,))


@kind_class
class _ReflectPad(_PadNd):
    negative_ok = False
    saves = keeps_input

    def check_side(self, size: int, left: int, right: int, d: int) -> None:
        if max(left, right) >= size:
            raise ShapeError(
                f"reflection padding must be smaller than the dim it pads: ({left}, {right}) "
                f"for size {size} in dim {d + 1}"
            )


@kind_class
class _CircularPad(_PadNd):
    negative_ok = False

    def check_side(self, size: int, left: int, right: int, d: int) -> None:
        if max(left, right) > size:
            raise ShapeError(
                f"circular padding can wrap around once at most: ({left}, {right}) for size {size} in dim {d + 1}"
            )


@kind_class
class _ReplicatePad(_PadNd):
    negative_ok = False
    saves = keeps_input


KINDS: list = []
for _n in (1, 2, 3):
    KINDS += [
        declare(f"ZeroPad{_n}d", _PadNd, "Pads with zeros (negative padding crops).", ndim=_n),
        declare(
            f"ConstantPad{_n}d",
            _PadNd,
            "Pads with a constant value (negative padding crops).",
            ndim=_n,
            value=arg(REQUIRED, "float", "the fill value", counts=False),
        ),
        declare(f"ReflectionPad{_n}d", _ReflectPad, "Pads with the reflection of the input.", ndim=_n),
        declare(f"ReplicationPad{_n}d", _ReplicatePad, "Pads by repeating the edge values.", ndim=_n),
        declare(f"CircularPad{_n}d", _CircularPad, "Pads by wrapping the input around.", ndim=_n),
    ]
