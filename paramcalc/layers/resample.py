"""Resampling: upsampling by interpolation, and pixel (un)shuffle, which trades space for channels."""

from __future__ import annotations

import math

from ..errors import FieldError, ShapeError
from .base import REQUIRED, Layer, Reach, ReachOf, Shape, arg, fmt_shape, kind_class, per_dim  # for annotations
from .binding import Call, Kw, call, hole, kwargs

INTERPOLATING = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}


@kind_class
class Upsample(Layer):
    """Resizes the spatial dims of (C, *spatial) by `scale` or to `size` (1 to 3 spatial dims)."""

    scale: object = arg(None, "floats", "multiplier per spatial dim (or one for all)", aka=("scale_factor",))
    size: int | tuple[int, ...] | None = arg(None, "int_or_ints", "output size per spatial dim (or one for all)")
    mode: str = arg(
        "nearest",
        "choice",
        "interpolation",
        counts=False,
        choices=("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area"),
    )
    align_corners: bool | None = arg(None, "bool", "only for linear, bilinear, bicubic, trilinear", counts=False)
    recompute_scale_factor: bool | None = arg(None, "bool", "ignored", counts=False)

    kind, torch_name, primary = "upsample", "Upsample", "scale"
    formulas = {
        "output": "(C, *size) or (C, *floor(L · scale))",
        "weights": "0",
        "bias": "0",
        "macs": "0 (interpolation is not counted)",
    }

    def torch_module(self, in_shapes: list[Shape]) -> Call | None:
        if self.size is not None:
            target = Kw("size", hole(self.size, "size"))
        else:
            target = Kw("scale_factor", hole(self.scale, "scale_factor"))
        return call(self.torch_name, [], [target, *kwargs(self, ("size", "scale"))])

    def validate(self) -> None:
        if (self.scale is None) == (self.size is None):
            raise FieldError("scale", "give exactly one of 'scale' and 'size'")
        if self.align_corners is not None and self.mode not in INTERPOLATING:
            raise FieldError(
                "align_corners",
                f"align_corners only goes with the interpolating modes "
                f"({', '.join(INTERPOLATING)}), found mode '{self.mode}'",
            )

    def output_shape(self, shapes: list[Shape]) -> Shape:
        shape = shapes[0]
        n = len(shape) - 1
        wanted = INTERPOLATING.get(self.mode)
        if not 1 <= n <= 3 or (wanted and n != wanted):
            layout = f"{wanted + 1} dimensions" if wanted else "2 to 4 dimensions"
            raise ShapeError(
                f"mode '{self.mode}' expects a per-sample input of {layout} (C, *spatial), found {fmt_shape(shape)}"
            )
        given = self.size if self.size is not None else self.scale
        each = per_dim(given, n)
        if len(each) != n:
            raise ShapeError(
                f"{'size' if self.size is not None else 'scale'} has {len(each)} entries for "
                f"{n} spatial dims of {fmt_shape(shape)}"
            )
        if self.size is not None:
            out = each
        else:
            out = tuple(math.floor(length * s) for length, s in zip(shape[1:], each))
        if any(o < 1 for o in out):
            raise ShapeError(f"the output size {list(out)} has an empty dim")
        return (shape[0], *out)

    def reach(self, shapes: list[Shape], out: Shape) -> ReachOf:
        if self.mode == "area":
            from .pool import adaptive_reach

            return tuple(adaptive_reach(length, size) for length, size in zip(shapes[0][1:], out[1:]))
        scales = per_dim(self.scale, len(out) - 1)
        return tuple(self._reach(length, size, scale) for length, size, scale in zip(shapes[0][1:], out[1:], scales))

    def _reach(self, length, size, scale):
        """PyTorch's source index of output o: o·r (nearest), (o + ½)·r − ½ (linear, bicubic), or
        o·(L − 1)/(size − 1) with align_corners, r being 1/scale when a scale is given, else L/size.
        Interpolation reads the neighbours it weights; bicubic two more on each side."""
        from fractions import Fraction  # exact positions; imported here, as fractions loads decimal

        if self.align_corners:
            ratio = Fraction(length - 1, size - 1) if size > 1 else Fraction(0)
            offset = Fraction(0)
        else:
            ratio = 1 / Fraction(scale).limit_denominator(1000) if scale is not None else Fraction(length, size)
            offset = ratio / 2 if self.mode == "nearest-exact" else Fraction(0)
            if self.mode in INTERPOLATING:
                offset = ratio / 2 - Fraction(1, 2)
        if self.mode in ("nearest", "nearest-exact"):
            return Reach.table(
                ratio.numerator,
                ratio.denominator,
                lambda o: math.floor(ratio * o + offset),
                lambda o: math.floor(ratio * o + offset),
            )
        wide = 1 if self.mode == "bicubic" else 0  # a neighbour weighted zero is not read

        def first(o):
            s = ratio * o + offset
            return math.floor(s) - (wide if s % 1 else 0)

        def last(o):
            s = ratio * o + offset
            return math.floor(s) + (1 + wide if s % 1 else 0)

        return Reach.table(ratio.numerator, ratio.denominator, first, last)


@kind_class
class UpsamplingNearest2d(Upsample):
    """Nearest-neighbour upsampling of (C, H, W)."""

    mode: str = "nearest"
    align_corners: bool | None = None
    recompute_scale_factor: bool | None = None
    kind, torch_name = "upsamplingnearest2d", "UpsamplingNearest2d"


@kind_class
class UpsamplingBilinear2d(UpsamplingNearest2d):
    """Bilinear upsampling of (C, H, W) with align_corners=True."""

    mode: str = "bilinear"
    kind, torch_name = "upsamplingbilinear2d", "UpsamplingBilinear2d"


def _images(shape):
    if len(shape) < 3:
        raise ShapeError(f"expects a per-sample input of at least 3 dimensions (C, H, W), found {fmt_shape(shape)}")
    return shape


@kind_class
class PixelShuffle(Layer):
    """(C·r², H, W) -> (C, H·r, W·r): sub-pixel convolution's rearrangement."""

    factor: int = arg(REQUIRED, "int", "r", aka=("upscale_factor",))

    kind, torch_name, primary = "pixelshuffle", "PixelShuffle", "factor"
    formulas = {"output": "(*, C / r², H·r, W·r)", "weights": "0", "bias": "0", "macs": "0"}

    def output_shape(self, shapes: list[Shape]) -> Shape:
        *lead, c, h, w = _images(shapes[0])
        r = self.factor
        if c % (r * r):
            raise ShapeError(f"channels ({c}) must be divisible by factor² ({r * r})")
        return (*lead, c // (r * r), h * r, w * r)

    def reach(self, shapes: list[Shape], out: Shape) -> ReachOf:
        return (Reach.table(1, self.factor, lambda o: 0, lambda o: 0),) * 2  # r outputs per input


@kind_class
class PixelUnshuffle(Layer):
    """(C, H·r, W·r) -> (C·r², H, W): the inverse of pixelshuffle."""

    factor: int = arg(REQUIRED, "int", "r", aka=("downscale_factor",))

    kind, torch_name, primary = "pixelunshuffle", "PixelUnshuffle", "factor"
    formulas = {"output": "(*, C·r², H / r, W / r)", "weights": "0", "bias": "0", "macs": "0"}

    def output_shape(self, shapes: list[Shape]) -> Shape:
        *lead, c, h, w = _images(shapes[0])
        r = self.factor
        if h % r or w % r:
            raise ShapeError(f"height and width ({h}, {w}) must be divisible by factor {r}")
        return (*lead, c * r * r, h // r, w // r)

    def reach(self, shapes: list[Shape], out: Shape) -> ReachOf:
        return (Reach.window(self.factor, self.factor, 0),) * 2


KINDS = [Upsample, UpsamplingNearest2d, UpsamplingBilinear2d, PixelShuffle, PixelUnshuffle]
