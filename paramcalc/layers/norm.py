"""Normalisation: batch, layer, RMS, group, instance and local response norms."""

from __future__ import annotations

from typing import ClassVar

from ..errors import FieldError, ShapeError
from .base import (  # for annotations
    GLOBAL,
    REQUIRED,
    SAME,
    Context,
    Layer,
    Params,
    ReachOf,
    Saved,
    Shape,
    arg,
    check_declared,
    device_arg,
    dtype_arg,
    expect_rank,
    fmt_shape,
    kind_class,
    prod,
)
from .binding import Call, Kw, call, hole, kwargs

# The class export writes for layernorm2d: torchvision's, which the exported module cannot import.
LAYER_NORM_2D = '''

class LayerNorm2d(nn.LayerNorm):
    """torchvision.models.convnext.LayerNorm2d: LayerNorm over the channels at each position."""

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)
'''

# The class export writes for an rmsnorm with an offset (Gemma's RMSNorm), which nn.RMSNorm cannot hold.
OFFSET_RMS_NORM = '''

class OffsetRMSNorm(nn.Module):
    """RMSNorm computed in float32 whose scale is offset + weight (Gemma's: 1 + weight, the weight from zeros)."""

    def __init__(self, normalized_shape, eps=None, offset=1.0):
        super().__init__()
        self.normalized_shape, self.offset = tuple(normalized_shape), offset
        self.eps = torch.finfo(torch.float32).eps if eps is None else eps
        self.weight = nn.Parameter(torch.zeros(self.normalized_shape))

    def forward(self, x):
        y = x.float()
        y = y * torch.rsqrt(y.pow(2).mean(tuple(range(-len(self.normalized_shape), 0)), keepdim=True) + self.eps)
        return (y * (self.offset + self.weight.float())).to(x.dtype)
'''


@kind_class
class _BatchNormNd(Layer):
    """Normalises each channel over the batch; C is inferred from the input."""

    ranks: ClassVar[tuple[int, ...]]  # the input ranks it takes (per subclass)
    per_sample = False  # statistics per channel of each sample (instance norm), not of the batch

    eps: float = arg(1e-5, "float", "added to the variance", counts=False)
    momentum: float = arg(0.1, "float", "running-stats update rate", counts=False)
    affine: bool = arg(True, "bool", "learn a scale (weight) and shift (bias) per channel")
    track_running_stats: bool = arg(True, "bool", "keep running mean/var buffers and a batch counter")
    device: str = device_arg()
    dtype: str = dtype_arg()
    num_features: int = arg(
        None, "int", "channels: inferred from the input; if given, checked against it", counts=False
    )

    formulas = {
        "output": "same as input",
        "weights": "C (when affine)",
        "bias": "C (when affine)",
        "buffers": "2·C + 1 (running_mean, running_var, num_batches_tracked) when track_running_stats",
        "macs": "0 (normalisation is not counted)",
    }

    def output_shape(self, shapes: list[Shape]) -> Shape:
        (shape,) = shapes
        expect_rank(shape, self.ranks, self.layout)
        check_declared(self.num_features, shape[0], "num_features")
        return shape

    def params(self, shapes: list[Shape]) -> Params:
        c = shapes[0][0]
        return Params(
            weights=c if self.affine else 0,
            bias=c if self.affine else 0,
            buffers=2 * c + 1 if self.track_running_stats else 0,
        )

    def saves(self, shapes: list[Shape], out: Shape, ctx: Context) -> Saved:
        # The input, and the batch's mean and inverse std per channel (kept in float32).
        stats = shapes[0][0] * (ctx.batch if self.per_sample else 1)
        return Saved(inputs=(0,), tensors=((stats, "float32"), (stats, "float32")))

    def reach(self, shapes: list[Shape], out: Shape) -> ReachOf:
        return SAME  # at inference the running statistics are constants

    def torch_module(self, in_shapes: list[Shape]) -> Call | None:
        return call(self.torch_name, [hole(in_shapes[0][0], "num_features")], kwargs(self))


class BatchNorm1d(_BatchNormNd):
    kind, torch_name, ranks, layout = "batchnorm1d", "BatchNorm1d", (1, 2), "(C) or (C, L)"
    tensor_parallel = "norm"


class BatchNorm2d(_BatchNormNd):
    kind, torch_name, ranks, layout = "batchnorm2d", "BatchNorm2d", (3,), "(C, H, W)"
    tensor_parallel = "norm"


class BatchNorm3d(_BatchNormNd):
    kind, torch_name, ranks, layout = "batchnorm3d", "BatchNorm3d", (4,), "(C, D, H, W)"
    tensor_parallel = "norm"


def _normalized(shape_field, shape, field="shape"):
    """LayerNorm/RMSNorm's normalized_shape: the last dims of the input (default: the last one)."""
    expect_rank(shape, tuple(range(1, 9)), "(..., features)")
    if shape_field is None:
        return (shape[-1],)
    if tuple(shape[len(shape) - len(shape_field) :]) != shape_field or len(shape_field) > len(shape):
        raise ShapeError(f"{field} {list(shape_field)} must match the last dims of the input {fmt_shape(shape)}")
    return shape_field


@kind_class
class _TrailingNorm(Layer):
    tensor_parallel = "norm"
    shape: tuple[int, ...] | None = arg(
        None, "dims", "the normalised trailing dims; null: the last dim", aka=("normalized_shape",)
    )
    elementwise_affine: bool = arg(True, "bool", "learn a per-element scale (and, for layernorm, a shift)")
    upcast: bool = arg(
        False, "bool", "compute in float32, keeping float32 copies for backward (Hugging Face's RMSNorm, LayerNorm)"
    )
    device: str = device_arg()
    dtype: str = dtype_arg()

    primary = "shape"

    def output_shape(self, shapes: list[Shape]) -> Shape:
        _normalized(self.shape, shapes[0])
        return shapes[0]

    def reach(self, shapes: list[Shape], out: Shape) -> ReachOf:
        # each position's statistics are taken over all of the normalised trailing dims
        return (GLOBAL,) * len(_normalized(self.shape, shapes[0]))

    def affine_size(self, shapes) -> int:
        return prod(_normalized(self.shape, shapes[0])) if self.elementwise_affine else 0

    def rows(self, shapes, ctx) -> int:
        """Normalised vectors in the batch: one mean / inverse RMS each."""
        return ctx.batch * prod(shapes[0]) // prod(_normalized(self.shape, shapes[0]))

    def torch_module(self, in_shapes: list[Shape]) -> Call | None:
        shape = self.shape if self.shape is not None else (in_shapes[0][-1],)
        return call(self.torch_name, [hole(list(shape), "normalized_shape")], kwargs(self, ("shape",)))


@kind_class
class LayerNorm(_TrailingNorm):
    """Normalises over the last dims (by default the last one), with a learned scale and shift."""

    eps: float = arg(1e-5, "float", "added to the variance", counts=False)
    bias: bool = arg(True, "bool", "learn a shift (with elementwise_affine)")

    kind, torch_name = "layernorm", "LayerNorm"
    autocast = "fp32_on_cuda"
    formulas = {
        "output": "same as input",
        "weights": "Π shape (when elementwise_affine)",
        "bias": "Π shape (when elementwise_affine and bias)",
        "macs": "0 (normalisation is not counted)",
    }

    def params(self, shapes: list[Shape]) -> Params:
        n = self.affine_size(shapes)
        return Params(weights=n, bias=n if self.bias else 0)

    def saves(self, shapes: list[Shape], out: Shape, ctx: Context) -> Saved:
        rows = self.rows(shapes, ctx)
        return Saved(inputs=(0,), tensors=((rows, "float32"), (rows, "float32")))  # mean, inverse std


@kind_class
class RMSNorm(_TrailingNorm):
    """Root-mean-square normalisation over the last dims, with a learned scale."""

    eps: float = arg(None, "float", "added to the mean square", counts=False)
    offset: float = arg(0.0, "float", "the scale is offset + weight (Gemma: 1, its weight from zeros)", counts=False)

    kind, torch_name = "rmsnorm", "RMSNorm"
    torch_classes = {"OffsetRMSNorm": OFFSET_RMS_NORM}
    formulas = {
        "output": "same as input",
        "weights": "Π shape (when elementwise_affine)",
        "bias": "0",
        "macs": "0 (normalisation is not counted)",
    }

    def validate(self) -> None:
        if self.offset and not self.elementwise_affine:
            raise FieldError("offset", f"offset={self.offset} needs elementwise_affine (a weight to add it to)")

    def params(self, shapes: list[Shape]) -> Params:
        return Params(weights=self.affine_size(shapes))

    def torch_module(self, in_shapes: list[Shape]) -> Call | None:
        """nn.RMSNorm, or with an offset the generated OffsetRMSNorm (float32, as Gemma's)."""
        if not self.offset:
            return super().torch_module(in_shapes)
        shape = self.shape if self.shape is not None else (in_shapes[0][-1],)
        return Call(
            "OffsetRMSNorm",
            [
                hole(list(shape), "normalized_shape"),
                *kwargs(self, ("shape", "offset", "upcast", "elementwise_affine")),
                Kw("offset", hole(self.offset, "offset")),
            ],
        )

    def saves(self, shapes: list[Shape], out: Shape, ctx: Context) -> Saved:
        # PyTorch composes it: the input and its inverse RMS, and the normalised input for the scale.
        normalised = ((ctx.batch * prod(shapes[0]), "act"),) if self.elementwise_affine else ()
        return Saved(inputs=(0,), tensors=((self.rows(shapes, ctx), "act"), *normalised))


@kind_class
class LayerNorm2d(Layer):
    """torchvision's LayerNorm2d (ConvNeXt): LayerNorm over the channels of a (C, H, W) input at each
    position, as permute → layernorm → permute."""

    eps: float = arg(1e-6, "float", "added to the variance", counts=False)
    elementwise_affine: bool = arg(True, "bool", "learn a per-channel scale and shift")
    bias: bool = arg(True, "bool", "learn a shift (with elementwise_affine)")
    channels: int = arg(
        None,
        "int",
        "C: inferred from the input; if given, checked against it",
        counts=False,
        aka=("normalized_shape", "num_channels"),
    )
    device: str = device_arg()
    dtype: str = dtype_arg()

    kind, torch_name = "layernorm2d", "torchvision.models.convnext.LayerNorm2d"
    autocast = "fp32_on_cuda"
    formulas = {
        "output": "same as input",
        "weights": "C (when elementwise_affine)",
        "bias": "C (when elementwise_affine and bias)",
        "macs": "0 (normalisation is not counted)",
    }

    def output_shape(self, shapes: list[Shape]) -> Shape:
        expect_rank(shapes[0], (3,), "(C, H, W)")
        check_declared(self.channels, shapes[0][0], "channels")
        return shapes[0]

    def reach(self, shapes: list[Shape], out: Shape) -> ReachOf:
        return SAME  # statistics over the channels of one position

    def params(self, shapes: list[Shape]) -> Params:
        c = shapes[0][0] if self.elementwise_affine else 0
        return Params(weights=c, bias=c if self.bias else 0)

    def saves(self, shapes: list[Shape], out: Shape, ctx: Context) -> Saved:
        # layer_norm keeps its (permuted) input, and a mean and inverse std per position; the permutes are views.
        positions = ctx.batch * prod(shapes[0][1:])
        return Saved(inputs=(0,), tensors=((positions, "float32"), (positions, "float32")))

    torch_classes = {"LayerNorm2d": LAYER_NORM_2D}

    def torch_module(self, in_shapes: list[Shape]) -> Call | None:
        return Call("LayerNorm2d", [hole(in_shapes[0][0], "channels"), *kwargs(self, ("channels",))])


@kind_class
class GroupNorm(Layer):
    """Normalises groups of channels of a (C, *) input; C is inferred."""

    groups: int = arg(REQUIRED, "int", "number of groups; must divide the channels", aka=("num_groups",))
    eps: float = arg(1e-5, "float", "added to the variance", counts=False)
    affine: bool = arg(True, "bool", "learn a scale and shift per channel")
    num_channels: int = arg(
        None, "int", "channels: inferred from the input; if given, checked against it", counts=False
    )
    device: str = device_arg()
    dtype: str = dtype_arg()

    kind, torch_name, primary = "groupnorm", "GroupNorm", "groups"
    autocast, tensor_parallel = "fp32_on_cuda", "norm"
    formulas = {
        "output": "same as input",
        "weights": "C (when affine)",
        "bias": "C (when affine)",
        "macs": "0 (normalisation is not counted)",
    }

    def output_shape(self, shapes: list[Shape]) -> Shape:
        shape = shapes[0]
        expect_rank(shape, tuple(range(1, 9)), "(C, *)")
        check_declared(self.num_channels, shape[0], "num_channels")
        if shape[0] % self.groups:
            raise ShapeError(f"groups={self.groups} must divide the channels, found {shape[0]}")
        return shape

    def params(self, shapes: list[Shape]) -> Params:
        c = shapes[0][0] if self.affine else 0
        return Params(weights=c, bias=c)

    def saves(self, shapes: list[Shape], out: Shape, ctx: Context) -> Saved:
        stats = ctx.batch * self.groups
        return Saved(inputs=(0,), tensors=((stats, "float32"), (stats, "float32")))  # mean, inverse std

    def reach(self, shapes: list[Shape], out: Shape) -> ReachOf:
        return (GLOBAL,) * (len(out) - 1)  # statistics over all positions of each group

    def torch_module(self, in_shapes: list[Shape]) -> Call | None:
        sizes = [hole(self.groups, "num_groups"), hole(in_shapes[0][0], "num_channels")]
        return call(self.torch_name, sizes, kwargs(self, ("groups",)))


@kind_class
class _InstanceNormNd(_BatchNormNd):
    """Normalises each channel of each sample over its spatial dims."""

    affine: bool = arg(False, "bool", "learn a scale (weight) and shift (bias) per channel")
    track_running_stats: bool = arg(False, "bool", "keep running mean/var buffers and a batch counter")

    per_sample = True

    def reach(self, shapes: list[Shape], out: Shape) -> ReachOf:
        return (GLOBAL,) * (len(out) - 1)  # each sample's statistics, over all positions


class InstanceNorm1d(_InstanceNormNd):
    kind, torch_name, ranks, layout = "instancenorm1d", "InstanceNorm1d", (2,), "(C, L)"


class InstanceNorm2d(_InstanceNormNd):
    kind, torch_name, ranks, layout = "instancenorm2d", "InstanceNorm2d", (3,), "(C, H, W)"


class InstanceNorm3d(_InstanceNormNd):
    kind, torch_name, ranks, layout = "instancenorm3d", "InstanceNorm3d", (4,), "(C, D, H, W)"


@kind_class
class LocalResponseNorm(Layer):
    """Normalises each element by its neighbours across `size` channels (AlexNet's LRN)."""

    size: int = arg(REQUIRED, "int", "channels to normalise over")
    alpha: float = arg(1e-4, "float", "scale", counts=False)
    beta: float = arg(0.75, "float", "exponent", counts=False)
    k: float = arg(1.0, "float", "additive factor", counts=False)

    kind, torch_name, primary = "localresponsenorm", "LocalResponseNorm", "size"
    formulas = {"output": "same as input", "weights": "0", "bias": "0", "macs": "0"}

    def output_shape(self, shapes: list[Shape]) -> Shape:
        expect_rank(shapes[0], tuple(range(2, 9)), "(C, *)")
        return shapes[0]

    def reach(self, shapes: list[Shape], out: Shape) -> ReachOf:
        return SAME  # neighbours across channels only


KINDS = [
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    LayerNorm,
    RMSNorm,
    LayerNorm2d,
    GroupNorm,
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
    LocalResponseNorm,
]
