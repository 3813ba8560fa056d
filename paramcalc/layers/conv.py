"""Convolutions: conv1d/2d/3d and convtranspose1d/2d/3d."""

from __future__ import annotations

from ..errors import FieldError, ShapeError
from .base import (  # for annotations
    REQUIRED,
    Context,
    Layer,
    Params,
    Reach,
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

IN_CHANNELS = "input channels: inferred from the input; if given, checked against it"


def conv_length(length: int, kernel: int, stride: int, pad: int, dilation: int) -> int:
    """PyTorch's output length: floor((L + 2p - d(k-1) - 1) / s) + 1."""
    return (length + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1


@kind_class
class _ConvNd(Layer):
    """Applies a learned convolution over the spatial dims of a (C, *spatial) input."""

    autocast = "lower"

    out: int = arg(REQUIRED, "int", "output channels", aka=("out_channels",))
    kernel: tuple = arg(REQUIRED, "size", "kernel size: an int or one per spatial dim", aka=("kernel_size",))
    stride: tuple = arg(1, "size", "step between windows")
    padding: tuple[int, ...] | str = arg(
        0, "padding", "zeros added on both sides: int, per-dim list, 'same' or 'valid'", min=0
    )
    dilation: tuple = arg(1, "size", "spacing between kernel elements")
    groups: int = arg(
        1, "int", 'blocked connections; must divide in and out channels (depthwise: "${shape(input)[0]}")'
    )
    bias: bool = arg(True, "bool", "learn an additive bias per output channel")
    padding_mode: str = arg(
        "zeros", "choice", "how padding is filled", counts=False, choices=("zeros", "reflect", "replicate", "circular")
    )
    device: str = device_arg()
    dtype: str = dtype_arg()
    in_channels: int = arg(None, "int", IN_CHANNELS, counts=False)
    weight_norm: int = arg(
        None,
        "int",
        "the weight as g·v/‖v‖ (torch.nn.utils.parametrizations.weight_norm, dim=this): v the weight's shape, "
        "g its size along this dim (wav2vec2's positional convolution)",
        min=0,
    )

    primary = "out"
    formulas = {
        "output": "L_out = floor((L + 2·padding − dilation·(kernel − 1) − 1) / stride) + 1 per spatial dim",
        "weights": "out · (C_in / groups) · Π kernel (+ the weight's size along weight_norm: g)",
        "bias": "out (when bias)",
        "macs": "Π output_shape · (C_in / groups) · Π kernel",
    }

    def validate(self) -> None:
        if self.weight_norm is not None and self.weight_norm > self.ndim + 1:
            raise FieldError.of_value(
                "weight_norm",
                f"expects a dim of the {self.ndim + 2}-dim weight (0 to {self.ndim + 1}), found {self.weight_norm}",
            )
        if self.padding == "same" and any(s != 1 for s in self.stride):
            raise FieldError(
                "padding",
                f"padding 'same' needs stride 1 (PyTorch forbids it for "
                f"strided convolutions), found stride {list(self.stride)}",
            )

    def _in_channels(self, shape: Shape) -> int:
        expect_rank(shape, (self.ndim + 1,), self.layout)
        channels = shape[0]
        check_declared(self.in_channels, channels, "in_channels")
        for what, n in (("input", channels), ("output", self.out)):
            if n % self.groups:
                raise ShapeError(f"groups={self.groups} must divide the {what} channels, found {n}")
        return channels

    def output_shape(self, shapes: list[Shape]) -> Shape:
        (shape,) = shapes
        self._in_channels(shape)
        spatial = []
        for i, length in enumerate(shape[1:]):
            k, s, d = self.kernel[i], self.stride[i], self.dilation[i]
            if self.padding == "same":
                spatial.append(length)
                continue
            pad = self.padding[i] if isinstance(self.padding, tuple) else 0  # "valid"
            if (self.padding_mode == "reflect" and pad >= length) or (self.padding_mode == "circular" and pad > length):
                bound = "less than" if self.padding_mode == "reflect" else "at most"
                raise ShapeError(
                    f"padding_mode '{self.padding_mode}' needs padding {bound} the input size, found "
                    f"padding {pad} for size {length} in spatial dim {i + 1}"
                )
            size = conv_length(length, k, s, pad, d)
            if size < 1:
                raise ShapeError(
                    f"kernel {k} (dilation {d}, so it spans {d * (k - 1) + 1}) is larger than "
                    f"the padded input {length + 2 * pad} in spatial dim {i + 1} of "
                    f"{fmt_shape(shape)}"
                )
            spatial.append(size)
        return (self.out, *spatial)

    def params(self, shapes: list[Shape]) -> Params:
        c_in = self._in_channels(shapes[0])
        weights = self.out * (c_in // self.groups) * prod(self.kernel)
        return Params(weights=weights + self.norm_scale(shapes), bias=self.out if self.bias else 0)

    def norm_scale(self, shapes: list[Shape]) -> int:
        """weight_norm's g: one scale per index of the weight along its dim (the v is the weight itself)."""
        if self.weight_norm is None:
            return 0
        shape = self.weight_shape(shapes)
        assert shape is not None
        return shape[self.weight_norm]

    def param_tensors(self, shapes: list[Shape]) -> int:
        return super().param_tensors(shapes) + (self.weight_norm is not None)

    def macs(self, shapes: list[Shape], out: Shape) -> int:
        return prod(out) * (shapes[0][0] // self.groups) * prod(self.kernel)

    def weight_shape(self, shapes: list[Shape]) -> Shape | None:
        return (self.out, shapes[0][0] // self.groups, *self.kernel)

    def saves(self, shapes: list[Shape], out: Shape, ctx: Context) -> Saved:
        return Saved(inputs=(0,))  # the input, for the weight's gradient

    def reach(self, shapes: list[Shape], out: Shape) -> ReachOf:
        if isinstance(self.padding, str):  # 'same' pads d·(k − 1) // 2 on the left, as PyTorch does
            pads = tuple(0 if self.padding == "valid" else d * (k - 1) // 2 for k, d in zip(self.kernel, self.dilation))
        else:
            pads = self.padding
        return tuple(Reach.window(*geometry) for geometry in zip(self.kernel, self.stride, pads, self.dilation))

    def torch_module(self, in_shapes: list[Shape]) -> Call | None:
        sizes = [hole(in_shapes[0][0], "in_channels"), hole(self.out, "out_channels")]
        conv = call(self.torch_name, sizes, kwargs(self, ("out", "weight_norm")))
        if self.weight_norm is None:
            return conv
        # its parameters are conv.parametrizations.weight.original0 (g) and original1 (v), as in transformers
        return Call("nn.utils.parametrizations.weight_norm", [conv, Kw("dim", hole(self.weight_norm, "dim"))])


class Conv1d(_ConvNd):
    kind, torch_name, ndim, layout = "conv1d", "Conv1d", 1, "(C, L)"


class Conv2d(_ConvNd):
    kind, torch_name, ndim, layout = "conv2d", "Conv2d", 2, "(C, H, W)"


class Conv3d(_ConvNd):
    kind, torch_name, ndim, layout = "conv3d", "Conv3d", 3, "(C, D, H, W)"


@kind_class
class _ConvTransposeNd(_ConvNd):
    """The gradient of a convolution: upsamples (C, *spatial) by stride with a learned kernel."""

    padding: tuple = arg(0, "size", "removes dilation·(kernel − 1) − padding from each side", min=0)
    padding_mode: str = arg("zeros", "choice", "PyTorch supports only 'zeros' here", counts=False, choices=("zeros",))
    output_padding: tuple = arg(0, "size", "extra size on one side; smaller than stride or dilation", min=0)

    formulas = {
        "output": "L_out = (L − 1)·stride − 2·padding + dilation·(kernel − 1) + output_padding + 1",
        "weights": "C_in · (out / groups) · Π kernel (+ the weight's size along weight_norm: g)",
        "bias": "out (when bias)",
        "macs": "Π input spatial · C_in · (out / groups) · Π kernel (counted on input positions, as "
        "torch.utils.flop_counter does)",
    }

    def validate(self) -> None:
        for op, s, d in zip(self.output_padding, self.stride, self.dilation):
            if op >= s and op >= d:
                raise FieldError(
                    "output_padding",
                    f"output_padding must be smaller than stride or dilation, "
                    f"found output_padding {op} with stride {s} and dilation {d}",
                )

    def output_shape(self, shapes: list[Shape]) -> Shape:
        (shape,) = shapes
        self._in_channels(shape)
        spatial = []
        for i, length in enumerate(shape[1:]):
            size = (
                (length - 1) * self.stride[i]
                - 2 * self.padding[i]
                + self.dilation[i] * (self.kernel[i] - 1)
                + self.output_padding[i]
                + 1
            )
            if size < 1:
                raise ShapeError(
                    f"padding {self.padding[i]} leaves no output in spatial dim {i + 1} of "
                    f"{fmt_shape(shape)} (size {size})"
                )
            spatial.append(size)
        return (self.out, *spatial)

    def params(self, shapes: list[Shape]) -> Params:
        c_in = shapes[0][0]
        weights = c_in * (self.out // self.groups) * prod(self.kernel)
        return Params(weights=weights + self.norm_scale(shapes), bias=self.out if self.bias else 0)

    def macs(self, shapes: list[Shape], out: Shape) -> int:
        return prod(shapes[0]) * (self.out // self.groups) * prod(self.kernel)

    def weight_shape(self, shapes: list[Shape]) -> Shape | None:
        return (shapes[0][0], self.out // self.groups, *self.kernel)

    def reach(self, shapes: list[Shape], out: Shape) -> ReachOf:
        return tuple(
            Reach.transposed(*geometry) for geometry in zip(self.kernel, self.stride, self.padding, self.dilation)
        )


class ConvTranspose1d(_ConvTransposeNd):
    kind, torch_name, ndim, layout = "convtranspose1d", "ConvTranspose1d", 1, "(C, L)"


class ConvTranspose2d(_ConvTransposeNd):
    kind, torch_name, ndim, layout = "convtranspose2d", "ConvTranspose2d", 2, "(C, H, W)"


class ConvTranspose3d(_ConvTransposeNd):
    kind, torch_name, ndim, layout = "convtranspose3d", "ConvTranspose3d", 3, "(C, D, H, W)"


KINDS = [Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d]
