"""Pooling: max and average (1d/2d/3d), and their adaptive forms. No parameters, no MACs."""

from __future__ import annotations

from ..errors import FieldError, ShapeError
from .base import (  # for annotations
    GLOBAL,
    REQUIRED,
    Context,
    Layer,
    Reach,
    ReachOf,
    Saved,
    Shape,
    arg,
    expect_rank,
    fmt_shape,
    kind_class,
    prod,
)
from .binding import Call, Hole, call, first_output, kwargs, q, r

LAYOUTS = {1: "(C, L)", 2: "(C, H, W)", 3: "(C, D, H, W)"}


def pool_length(length, kernel, stride, pad, dilation, ceil_mode) -> int:
    """PyTorch's pooling_output_shape, including its ceil_mode rule that a window starting
    inside the right padding is dropped."""
    numerator = length + 2 * pad - dilation * (kernel - 1) - 1 + (stride - 1 if ceil_mode else 0)
    size = numerator // stride + 1
    if ceil_mode and (size - 1) * stride >= length + pad:
        size -= 1
    return size


@kind_class
class _PoolNd(Layer):
    kernel: tuple = arg(REQUIRED, "size", "window size: an int or one per spatial dim", aka=("kernel_size",))
    stride: tuple = arg(None, "size", "step between windows (default: kernel)")
    padding: tuple = arg(0, "size", "implicit padding on both sides, at most kernel // 2", min=0)
    ceil_mode: bool = arg(False, "bool", "round the output size up instead of down")

    primary = "kernel"
    dilation: tuple | None = None  # max pooling declares it as a field
    formulas = {
        "output": "L_out = floor_or_ceil((L + 2·padding − kernel) / stride) + 1; "
        "with ceil_mode a window that would start in the right padding is dropped",
        "weights": "0",
        "bias": "0",
        "macs": "0 (pooling is not counted)",
    }

    def torch_module(self, in_shapes: list[Shape]) -> Call | None:
        return call(self.torch_name, [Hole(r(self.kernel), "kernel_size")], kwargs(self, ("kernel",)))

    def validate(self) -> None:
        for k, p in zip(self.kernel, self.padding):
            if p > k // 2:
                raise FieldError(
                    "padding",
                    f"padding must be at most half the kernel (kernel // 2 = "
                    f"{k // 2}), found padding {p} for kernel {k}",
                )

    def output_shape(self, shapes: list[Shape]) -> Shape:
        (shape,) = shapes
        expect_rank(shape, (self.ndim + 1,), LAYOUTS[self.ndim])
        stride = self.stride or self.kernel
        dilation = self.dilation or (1,) * self.ndim
        spatial = []
        for i, length in enumerate(shape[1:]):
            size = pool_length(length, self.kernel[i], stride[i], self.padding[i], dilation[i], self.ceil_mode)
            if size < 1:
                raise ShapeError(
                    f"window {self.kernel[i]} is larger than the padded input "
                    f"{length + 2 * self.padding[i]} in spatial dim {i + 1} of {fmt_shape(shape)}"
                )
            spatial.append(size)
        return (shape[0], *spatial)

    def reach(self, shapes: list[Shape], out: Shape) -> ReachOf:
        stride = self.stride or self.kernel
        dilation = self.dilation or (1,) * self.ndim
        return tuple(Reach.window(*geometry) for geometry in zip(self.kernel, stride, self.padding, dilation))


def _input_and_indices(shapes: list[Shape], out: Shape, ctx: Context) -> Saved:
    """Max pooling keeps its input and the argmax of every output element (int64)."""
    return Saved(inputs=(0,), tensors=((ctx.batch * prod(out), "int64"),))


@kind_class
class _MaxPoolNd(_PoolNd):
    """Maximum over sliding windows of each channel."""

    dilation: tuple = arg(1, "size", "spacing between window elements")

    formulas = {
        **_PoolNd.formulas,
        "output": "L_out = floor_or_ceil((L + 2·padding − dilation·(kernel − 1) − 1) / stride) + 1; "
        "with ceil_mode a window that would start in the right padding is dropped",
    }
    return_indices: bool = arg(False, "bool", "also return argmax indices (the values are analysed)", counts=False)

    def saves(self, shapes: list[Shape], out: Shape, ctx: Context) -> Saved:
        return _input_and_indices(shapes, out, ctx)

    def torch_call(self, module: str, args: list[str], in_shapes: list[Shape]) -> str:
        return first_output(module, args) if self.return_indices else super().torch_call(module, args, in_shapes)


@kind_class
class _AvgPoolNd(_PoolNd):
    """Mean over sliding windows of each channel."""

    count_include_pad: bool = arg(True, "bool", "include padding zeros in the mean", counts=False)

    def saves(self, shapes: list[Shape], out: Shape, ctx: Context) -> Saved:
        return Saved(inputs=(0,))


@kind_class
class _AvgPoolDivisorNd(_AvgPoolNd):
    divisor_override: int = arg(None, "int", "divide by this instead of the window size", counts=False)


class MaxPool1d(_MaxPoolNd):
    kind, torch_name, ndim = "maxpool1d", "MaxPool1d", 1


class MaxPool2d(_MaxPoolNd):
    kind, torch_name, ndim = "maxpool2d", "MaxPool2d", 2


class MaxPool3d(_MaxPoolNd):
    kind, torch_name, ndim = "maxpool3d", "MaxPool3d", 3


class AvgPool1d(_AvgPoolNd):
    kind, torch_name, ndim = "avgpool1d", "AvgPool1d", 1


class AvgPool2d(_AvgPoolDivisorNd):
    kind, torch_name, ndim = "avgpool2d", "AvgPool2d", 2


class AvgPool3d(_AvgPoolDivisorNd):
    kind, torch_name, ndim = "avgpool3d", "AvgPool3d", 3

    def output_shape(self, shapes: list[Shape]) -> Shape:
        # PyTorch's avg_pool3d alone also requires the unpadded input to hold a whole window.
        (shape,) = shapes
        expect_rank(shape, (4,), LAYOUTS[3])
        if any(length < k for length, k in zip(shape[1:], self.kernel)):
            raise ShapeError(
                f"avgpool3d needs every spatial dim of the input (before padding) to be at least "
                f"the kernel {list(self.kernel)}, found {fmt_shape(shape)}"
            )
        return super().output_shape(shapes)


@kind_class
class _AdaptivePoolNd(Layer):
    out: tuple = arg(
        REQUIRED,
        "optional_size",
        "output size: an int, or one per spatial dim where null keeps the input's size",
        aka=("output_size",),
    )

    primary = "out"
    formulas = {
        "output": "(C, *out), a null entry keeping the input size (2d and 3d only)",
        "weights": "0",
        "bias": "0",
        "macs": "0 (pooling is not counted)",
    }

    def torch_module(self, in_shapes: list[Shape]) -> Call | None:
        out = self.out
        value = q(out[0]) if len(set(out)) == 1 and None not in out else q(out)
        return call(self.torch_name, [Hole(value, "output_size")], kwargs(self, ("out",)))

    def validate(self) -> None:
        if self.ndim == 1 and None in self.out:
            raise FieldError(
                "out",
                "a 1d adaptive pool needs an integer output size (PyTorch accepts null entries only in 2d and 3d)",
            )

    def output_shape(self, shapes: list[Shape]) -> Shape:
        (shape,) = shapes
        expect_rank(shape, (self.ndim + 1,), LAYOUTS[self.ndim])
        return (shape[0], *(length if o is None else o for o, length in zip(self.out, shape[1:])))

    def saves(self, shapes: list[Shape], out: Shape, ctx: Context) -> Saved:
        # An output of size 1 is computed as a mean, which keeps only sizes.
        return Saved() if all(o == 1 for o in out[1:]) else Saved(inputs=(0,))

    def reach(self, shapes: list[Shape], out: Shape) -> ReachOf:
        return tuple(adaptive_reach(length, o) for length, o in zip(shapes[0][1:], out[1:]))


def adaptive_reach(length: int, size: int):
    """Adaptive pooling's output o reads floor(o·L/n) .. ceil((o+1)·L/n) − 1; to one position, all."""
    if size == 1:
        return GLOBAL
    return Reach.table(length, size, lambda o: o * length // size, lambda o: -(-(o + 1) * length // size) - 1)


class AdaptiveAvgPool1d(_AdaptivePoolNd):
    """Averages each channel into a fixed output size, whatever the input size."""

    kind, torch_name, ndim = "adaptiveavgpool1d", "AdaptiveAvgPool1d", 1


class AdaptiveAvgPool2d(AdaptiveAvgPool1d):
    kind, torch_name, ndim = "adaptiveavgpool2d", "AdaptiveAvgPool2d", 2


class AdaptiveAvgPool3d(AdaptiveAvgPool1d):
    kind, torch_name, ndim = "adaptiveavgpool3d", "AdaptiveAvgPool3d", 3


@kind_class
class AdaptiveMaxPool1d(_AdaptivePoolNd):
    """Takes the maximum of each channel into a fixed output size, whatever the input size."""

    kind, torch_name, ndim = "adaptivemaxpool1d", "AdaptiveMaxPool1d", 1
    return_indices: bool = arg(False, "bool", "also return argmax indices (the values are analysed)", counts=False)

    def saves(self, shapes: list[Shape], out: Shape, ctx: Context) -> Saved:
        return _input_and_indices(shapes, out, ctx)

    def torch_call(self, module: str, args: list[str], in_shapes: list[Shape]) -> str:
        return first_output(module, args) if self.return_indices else super().torch_call(module, args, in_shapes)


class AdaptiveMaxPool2d(AdaptiveMaxPool1d):
    kind, torch_name, ndim = "adaptivemaxpool2d", "AdaptiveMaxPool2d", 2


class AdaptiveMaxPool3d(AdaptiveMaxPool1d):
    kind, torch_name, ndim = "adaptivemaxpool3d", "AdaptiveMaxPool3d", 3


KINDS = [
    MaxPool1d,
    MaxPool2d,
    MaxPool3d,
    AvgPool1d,
    AvgPool2d,
    AvgPool3d,
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveAvgPool3d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AdaptiveMaxPool3d,
]
