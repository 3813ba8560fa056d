"""Layers that only move or keep values: flatten, identity, dropout, upsampling, reshaping, padding."""

from __future__ import annotations

import math

from ..errors import FieldError, ShapeError
from .base import Layer, Moved, REQUIRED, Reach, SAME, Saved, arg, fmt_shape, kind_class, normalize_dim, prod


def view(self, shapes, out, ctx) -> Saved:
    """A view (or PyTorch's identity): shares its input's storage and keeps nothing."""
    return Saved(alias=True)


@kind_class
class Flatten(Layer):
    """Merges dims start_dim..end_dim into one. Dims count as in PyTorch, the batch being dim 0:
    the default start_dim=1, end_dim=-1 turns a (C, H, W) sample into (C·H·W)."""

    start_dim: int = arg(1, "int", "first dim to merge (batch = 0, so 1 is the first per-sample dim)", min=None)
    end_dim: int = arg(-1, "int", "last dim to merge (negative counts from the end)", min=None)

    kind, torch_name = "flatten", "Flatten"
    saves = view
    formulas = {"output": "per-sample dims start_dim-1 .. end_dim-1 multiplied into one",
                "weights": "0", "bias": "0", "macs": "0"}

    def output_shape(self, shapes):
        (shape,) = shapes
        start = normalize_dim(self.start_dim, shape, "start_dim")
        end = normalize_dim(self.end_dim, shape, "end_dim")
        if start > end:
            raise ShapeError(f"start_dim={self.start_dim} comes after end_dim={self.end_dim}")
        return (*shape[:start], prod(shape[start:end + 1]), *shape[end + 1:])


@kind_class
class Identity(Layer):
    """Passes its input through unchanged."""

    kind, torch_name = "identity", "Identity"
    saves = view
    formulas = {"output": "same as input", "weights": "0", "bias": "0", "macs": "0"}

    def output_shape(self, shapes):
        return shapes[0]

    def reach(self, shapes, out):
        return SAME


@kind_class
class _Dropout(Layer):
    """Zeroes random elements (or channels) while training; shape unchanged, no parameters."""

    p: float = arg(0.5, "float", "probability of an element being zeroed", counts=False)
    inplace: bool = arg(False, "bool", "overwrite the input: allocates no output")

    primary = "p"
    formulas = {"output": "same as input", "weights": "0", "bias": "0", "macs": "0"}
    feature = False   # one mask value per channel, not per element

    def validate(self):
        if not 0 <= self.p <= 1:
            raise FieldError("p", f"expects a probability between 0 and 1, found {self.p}")

    def output_shape(self, shapes):
        return shapes[0]

    def saves(self, shapes, out, ctx):
        if self.p == 0:
            return Saved(alias=True)   # PyTorch returns the input itself
        elements = ctx.batch * (shapes[0][0] if self.feature else prod(shapes[0]))
        # CUDA's fused kernel keeps a bool mask; elsewhere the mask is a tensor in the activation dtype.
        fused = ctx.device == "cuda" and type(self).kind == "dropout"
        return Saved(tensors=((elements, "bool" if fused else "act"),), alias=self.inplace)

    def reach(self, shapes, out):
        return SAME


class Dropout(_Dropout):
    kind, torch_name = "dropout", "Dropout"


class Dropout1d(_Dropout):
    kind, torch_name, feature = "dropout1d", "Dropout1d", True


class Dropout2d(_Dropout):
    kind, torch_name, feature = "dropout2d", "Dropout2d", True


class Dropout3d(_Dropout):
    kind, torch_name, feature = "dropout3d", "Dropout3d", True


class AlphaDropout(_Dropout):
    kind, torch_name = "alphadropout", "AlphaDropout"


class FeatureAlphaDropout(_Dropout):
    kind, torch_name, feature = "featurealphadropout", "FeatureAlphaDropout", True




# ---------------------------------------------------------------- upsampling and rearranging

INTERPOLATING = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}


@kind_class
class Upsample(Layer):
    """Resizes the spatial dims of (C, *spatial) by `scale` or to `size` (1 to 3 spatial dims)."""

    scale: object = arg(None, "floats", "multiplier per spatial dim (or one for all)", aka=("scale_factor",))
    size: object = arg(None, "dims", "output size per spatial dim (or one for all)")
    mode: str = arg("nearest", "choice", "interpolation", counts=False,
                    choices=("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area"))
    align_corners: bool = arg(None, "bool", "only for linear, bilinear, bicubic, trilinear", counts=False)
    recompute_scale_factor: bool = arg(None, "bool", "ignored", counts=False)

    kind, torch_name, primary = "upsample", "Upsample", "scale"
    formulas = {"output": "(C, *size) or (C, *floor(L · scale))", "weights": "0", "bias": "0",
                "macs": "0 (interpolation is not counted)"}

    def validate(self):
        if (self.scale is None) == (self.size is None):
            raise FieldError("scale", "give exactly one of 'scale' and 'size'")
        if self.align_corners is not None and self.mode not in INTERPOLATING:
            raise FieldError("align_corners", f"align_corners only goes with the interpolating modes "
                             f"({', '.join(INTERPOLATING)}), found mode '{self.mode}'")

    def output_shape(self, shapes):
        shape = shapes[0]
        n = len(shape) - 1
        wanted = INTERPOLATING.get(self.mode)
        if not 1 <= n <= 3 or (wanted and n != wanted):
            layout = f"{wanted + 1} dimensions" if wanted else "2 to 4 dimensions"
            raise ShapeError(f"mode '{self.mode}' expects a per-sample input of {layout} (C, *spatial), "
                             f"found {fmt_shape(shape)}")
        given = self.size if self.size is not None else self.scale
        per_dim = given if isinstance(given, tuple) else (given,) * n
        if len(per_dim) != n:
            raise ShapeError(f"{'size' if self.size is not None else 'scale'} has {len(per_dim)} entries for "
                             f"{n} spatial dims of {fmt_shape(shape)}")
        if self.size is not None:
            out = per_dim
        else:
            out = tuple(math.floor(length * s) for length, s in zip(shape[1:], per_dim))
        if any(o < 1 for o in out):
            raise ShapeError(f"the output size {list(out)} has an empty dim")
        return (shape[0], *out)

    def reach(self, shapes, out):
        if self.mode == "area":
            from .pool import adaptive_reach
            return tuple(adaptive_reach(length, size) for length, size in zip(shapes[0][1:], out[1:]))
        scales = self.scale if isinstance(self.scale, tuple) else (self.scale,) * (len(out) - 1)
        return tuple(self._reach(length, size, scale) for length, size, scale in zip(shapes[0][1:], out[1:], scales))

    def _reach(self, length, size, scale):
        """PyTorch's source index of output o: o·r (nearest), (o + ½)·r − ½ (linear, bicubic), or
        o·(L − 1)/(size − 1) with align_corners, r being 1/scale when a scale is given, else L/size.
        Interpolation reads the neighbours it weights; bicubic two more on each side."""
        from fractions import Fraction   # exact positions; imported here, as fractions loads decimal
        if self.align_corners:
            ratio = Fraction(length - 1, size - 1) if size > 1 else Fraction(0)
            offset = Fraction(0)
        else:
            ratio = 1 / Fraction(scale).limit_denominator(1000) if scale is not None else Fraction(length, size)
            offset = ratio / 2 if self.mode == "nearest-exact" else Fraction(0)
            if self.mode in INTERPOLATING:
                offset = ratio / 2 - Fraction(1, 2)
        if self.mode in ("nearest", "nearest-exact"):
            return Reach.table(ratio.numerator, ratio.denominator, lambda o: math.floor(ratio * o + offset),
                               lambda o: math.floor(ratio * o + offset))
        wide = 1 if self.mode == "bicubic" else 0   # a neighbour weighted zero is not read

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
    align_corners: bool = None
    recompute_scale_factor: bool = None
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

    def output_shape(self, shapes):
        *lead, c, h, w = _images(shapes[0])
        r = self.factor
        if c % (r * r):
            raise ShapeError(f"channels ({c}) must be divisible by factor² ({r * r})")
        return (*lead, c // (r * r), h * r, w * r)

    def reach(self, shapes, out):
        return (Reach.table(1, self.factor, lambda o: 0, lambda o: 0),) * 2   # r outputs per input


@kind_class
class PixelUnshuffle(Layer):
    """(C, H·r, W·r) -> (C·r², H, W): the inverse of pixelshuffle."""

    factor: int = arg(REQUIRED, "int", "r", aka=("downscale_factor",))

    kind, torch_name, primary = "pixelunshuffle", "PixelUnshuffle", "factor"
    formulas = {"output": "(*, C·r², H / r, W / r)", "weights": "0", "bias": "0", "macs": "0"}

    def output_shape(self, shapes):
        *lead, c, h, w = _images(shapes[0])
        r = self.factor
        if h % r or w % r:
            raise ShapeError(f"height and width ({h}, {w}) must be divisible by factor {r}")
        return (*lead, c * r * r, h // r, w // r)

    def reach(self, shapes, out):
        return (Reach.window(self.factor, self.factor, 0),) * 2


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

    shape: object = arg(REQUIRED, "dims", "the per-sample target shape (no batch dim); one entry may be -1")

    kind, torch_name, primary = "reshape", "torch.reshape", "shape"
    saves = view
    formulas = {"output": "shape, with -1 inferred", "weights": "0", "bias": "0", "macs": "0"}

    def output_shape(self, shapes):
        target = self.shape if isinstance(self.shape, tuple) else (self.shape,)
        return _resolve_sizes(target, prod(shapes[0]), "shape")


class View(Reshape):
    """Tensor.view: the same as reshape for counting."""
    kind, torch_name = "view", "Tensor.view"


@kind_class
class Unflatten(Layer):
    """Splits dim into sizes (one may be -1): the inverse of flatten."""

    dim: int = arg(REQUIRED, "int", "dim to split (batch = 0)", min=None)
    sizes: object = arg(REQUIRED, "dims", "the sizes it becomes", aka=("unflattened_size",))

    kind, torch_name = "unflatten", "Unflatten"
    saves = view
    formulas = {"output": "dim replaced by sizes", "weights": "0", "bias": "0", "macs": "0"}

    def output_shape(self, shapes):
        shape = shapes[0]
        d = normalize_dim(self.dim, shape)
        sizes = self.sizes if isinstance(self.sizes, tuple) else (self.sizes,)
        return (*shape[:d], *_resolve_sizes(sizes, shape[d], "sizes"), *shape[d + 1:])


@kind_class
class Permute(Layer):
    """Reorders dims; as in PyTorch the list includes the batch dim, which must stay first
    (`permute: [0, 2, 3, 1]` turns (C, H, W) into (H, W, C))."""

    dims: object = arg(REQUIRED, "dims", "the new order of all dims, batch (0) first")

    kind, torch_name, primary = "permute", "torch.permute", "dims"
    saves = view
    formulas = {"output": "input dims in the new order", "weights": "0", "bias": "0", "macs": "0"}

    def output_shape(self, shapes):
        shape = shapes[0]
        dims = self.dims if isinstance(self.dims, tuple) else (self.dims,)
        rank = len(shape) + 1
        full = [d + rank if d < 0 else d for d in dims]
        if sorted(full) != list(range(rank)):
            raise ShapeError(f"dims {list(dims)} must name each of the {rank} dims (batch + {fmt_shape(shape)}) once")
        if full[0] != 0:
            raise ShapeError(f"dims {list(dims)} move the batch dimension; it must stay first (0)")
        return tuple(shape[d - 1] for d in full[1:])

    def reach(self, shapes, out):
        rank = len(shapes[0]) + 1
        dims = self.dims if isinstance(self.dims, tuple) else (self.dims,)
        return Moved(tuple((d + rank if d < 0 else d) - 1 for d in dims[1:]))


@kind_class
class Transpose(Layer):
    """Swaps two dims (batch = 0, which cannot move)."""

    dim0: int = arg(REQUIRED, "int", "a dim", min=None)
    dim1: int = arg(REQUIRED, "int", "the other dim", min=None)

    kind, torch_name = "transpose", "torch.transpose"
    saves = view
    formulas = {"output": "input with dim0 and dim1 swapped", "weights": "0", "bias": "0", "macs": "0"}

    def output_shape(self, shapes):
        shape = list(shapes[0])
        a, b = normalize_dim(self.dim0, shapes[0], "dim0"), normalize_dim(self.dim1, shapes[0], "dim1")
        shape[a], shape[b] = shape[b], shape[a]
        return tuple(shape)

    def reach(self, shapes, out):
        order = list(range(len(shapes[0])))
        a, b = normalize_dim(self.dim0, shapes[0], "dim0"), normalize_dim(self.dim1, shapes[0], "dim1")
        order[a], order[b] = order[b], order[a]
        return Moved(tuple(order))


@kind_class
class Squeeze(Layer):
    """Removes size-1 dims: all of them, or the given ones (a dim that is not 1 stays)."""

    dim: object = arg(None, "dims", "a dim or a list (batch = 0); null: every size-1 dim", min=None)

    kind, torch_name, primary = "squeeze", "torch.squeeze", "dim"
    saves = view
    formulas = {"output": "input without its size-1 dims", "weights": "0", "bias": "0", "macs": "0"}

    def output_shape(self, shapes):
        shape = shapes[0]
        if self.dim is None:
            drop = {i for i, s in enumerate(shape) if s == 1}
        else:
            dims = self.dim if isinstance(self.dim, tuple) else (self.dim,)
            drop = {d for d in (normalize_dim(x, shape) for x in dims) if shape[d] == 1}
        return tuple(s for i, s in enumerate(shape) if i not in drop)


@kind_class
class Unsqueeze(Layer):
    """Inserts a size-1 dim at dim (batch = 0; negative counts from the end of the result)."""

    dim: int = arg(REQUIRED, "int", "where the new dim goes", min=None)

    kind, torch_name, primary = "unsqueeze", "torch.unsqueeze", "dim"
    saves = view
    formulas = {"output": "input with a 1 inserted", "weights": "0", "bias": "0", "macs": "0"}

    def output_shape(self, shapes):
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

    def output_shape(self, shapes):
        shape = shapes[0]
        d = normalize_dim(self.dim, shape)
        if not -shape[d] <= self.index < shape[d]:
            raise ShapeError(f"index {self.index} is out of range for dim {self.dim} of size {shape[d]}")
        return (*shape[:d], *shape[d + 1:])


@kind_class
class _PadNd(Layer):
    """Pads the last n dims: an int for every side, or (left, right[, top, bottom[, front, back]]),
    last dim first as in PyTorch."""

    padding: object = arg(REQUIRED, "dims", "an int, or 2·n ints: (left, right, top, bottom, front, back)")

    primary = "padding"
    formulas = {"output": "each of the last n dims grows by its two paddings", "weights": "0", "bias": "0",
                "macs": "0"}
    negative_ok = True

    def validate(self):
        pads = self.padding if isinstance(self.padding, tuple) else (self.padding,)
        if isinstance(self.padding, tuple) and len(pads) != 2 * self.ndim:
            raise FieldError("padding", f"expects an integer or {2 * self.ndim} integers, found {list(pads)}")
        if not self.negative_ok and min(pads) < 0:
            raise FieldError("padding", f"expects non-negative padding, found {list(pads)}")

    def output_shape(self, shapes):
        shape = list(shapes[0])
        n = self.ndim
        if len(shape) not in (n, n + 1):
            raise ShapeError(f"expects a per-sample input of {n} or {n + 1} dimensions, found {fmt_shape(shape)}")
        pads = self.padding if isinstance(self.padding, tuple) else (self.padding,) * (2 * n)
        for i in range(n):
            left, right = pads[2 * i], pads[2 * i + 1]
            d = len(shape) - 1 - i
            self.check_side(shape[d], left, right, d)
            shape[d] += left + right
            if shape[d] < 1:
                raise ShapeError(f"padding ({left}, {right}) leaves nothing of dim {d + 1} ({shape[d] - left - right})")
        return tuple(shape)

    def check_side(self, size, left, right, d):
        pass

    def reach(self, shapes, out):
        pads = self.padding if isinstance(self.padding, tuple) else (self.padding,) * (2 * self.ndim)
        return tuple(Reach.window(1, 1, pads[2 * i]) for i in reversed(range(self.ndim)))   # last dim first


def _pad_kind(torch_name, base, n, doc, **extra):
    namespace = {"kind": torch_name.lower(), "torch_name": torch_name, "ndim": n, "__doc__": doc,
                 "__annotations__": {k: object for k in extra}, **extra}
    return kind_class(type(torch_name, (base,), namespace))


def keeps_input(self, shapes, out, ctx) -> Saved:
    return Saved(inputs=(0,))


@kind_class
class _ReflectPad(_PadNd):
    negative_ok = False
    saves = keeps_input

    def check_side(self, size, left, right, d):
        if max(left, right) >= size:
            raise ShapeError(f"reflection padding must be smaller than the dim it pads: ({left}, {right}) "
                             f"for size {size} in dim {d + 1}")


@kind_class
class _CircularPad(_PadNd):
    negative_ok = False

    def check_side(self, size, left, right, d):
        if max(left, right) > size:
            raise ShapeError(f"circular padding can wrap around once at most: ({left}, {right}) for size {size} "
                             f"in dim {d + 1}")


@kind_class
class _ReplicatePad(_PadNd):
    negative_ok = False
    saves = keeps_input


PADS = []
for _n in (1, 2, 3):
    PADS += [
        _pad_kind(f"ZeroPad{_n}d", _PadNd, _n, "Pads with zeros (negative padding crops)."),
        _pad_kind(f"ConstantPad{_n}d", _PadNd, _n, "Pads with a constant value (negative padding crops).",
                  value=arg(REQUIRED, "float", "the fill value", counts=False)),
        _pad_kind(f"ReflectionPad{_n}d", _ReflectPad, _n, "Pads with the reflection of the input."),
        _pad_kind(f"ReplicationPad{_n}d", _ReplicatePad, _n, "Pads by repeating the edge values."),
        _pad_kind(f"CircularPad{_n}d", _CircularPad, _n, "Pads by wrapping the input around."),
    ]

KINDS = [Flatten, Identity, Dropout, Dropout1d, Dropout2d, Dropout3d, AlphaDropout, FeatureAlphaDropout,
         Upsample, UpsamplingNearest2d, UpsamplingBilinear2d, PixelShuffle, PixelUnshuffle, Reshape, View,
         Unflatten, Permute, Transpose, Squeeze, Unsqueeze, Select, *PADS]
