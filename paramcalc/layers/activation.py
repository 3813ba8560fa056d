"""Activations: elementwise (shape unchanged, no MACs); prelu has parameters; glu halves a dim."""

from __future__ import annotations

from typing import Any, ClassVar

from ..errors import ShapeError
from .base import (  # for annotations
    GLOBAL,
    REQUIRED,
    SAME as PER_POSITION,  # SAME below is the formulas of shape-keeping kinds
    Context,
    Layer,
    Params,
    ReachOf,
    Saved,
    Shape,
    arg,
    declare,
    device_arg,
    dtype_arg,
    kind_class,
    normalize_dim,
    prod,
)

SAME = {"output": "same as input", "weights": "0", "bias": "0", "macs": "0 (activations are not counted)"}


@kind_class
class _Elementwise(Layer):
    formulas = SAME
    # What PyTorch's backward keeps (measured, tests/fixtures/memory.json): its "input" or its
    # "output" (or nothing), and `extra` more tensors of the input's size (a buffer, a noise).
    keeps: ClassVar[str | None] = "input"
    inplace_keeps: ClassVar[str]  # declared by the kinds with an inplace field
    extra: ClassVar[int] = 0
    elementwise = True  # a permuted input gives a permuted output (but see LogSigmoid, RReLU, softmax)

    def output_shape(self, shapes: list[Shape]) -> Shape:
        return shapes[0]

    def saves(self, shapes: list[Shape], out: Shape, ctx: Context) -> Saved:
        numel = ctx.batch * prod(shapes[0])
        extra = ((numel, "act"),) * self.extra
        if getattr(self, "inplace", False):
            # In place the output overwrites the input: a kind whose gradient needs the input keeps
            # a copy of it; one that needs only its output keeps the (shared) storage.
            if self.keeps == "output" or self.inplace_keeps == "output":
                return Saved(output=True, tensors=extra, alias=True)
            return Saved(tensors=((numel, "act"), *extra), alias=True)
        return Saved(inputs=(0,) if self.keeps == "input" else (), output=self.keeps == "output", tensors=extra)

    def reach(self, shapes: list[Shape], out: Shape) -> ReachOf:
        return PER_POSITION


@kind_class
class _Inplace(_Elementwise):
    inplace: bool = arg(False, "bool", "overwrite the input: allocates no output, and changes what backward keeps")

    inplace_keeps: ClassVar[str] = "copy"  # in place: "output" (the shared storage) or "copy" of the input


# What backward keeps, as _Elementwise's class attributes (keeps, extra, inplace_keeps):
INPUT: dict[str, Any] = {"keeps": "input", "extra": 0, "inplace_keeps": "copy"}
OUTPUT: dict[str, Any] = {
    "keeps": "output",
    "extra": 0,
    "inplace_keeps": "output",
}  # its gradient needs only its output
IN_OR_OUT: dict[str, Any] = {
    "keeps": "input",
    "extra": 0,
    "inplace_keeps": "output",
}  # input, or in place output: either serves
INPUT_AND_ONE: dict[str, Any] = {**INPUT, "extra": 1}  # the input and one more tensor of its size
IN_OR_OUT_AND_ONE: dict[str, Any] = {**IN_OR_OUT, "extra": 1}
ONE_MORE: dict[str, Any] = {**INPUT, "keeps": None, "extra": 1}  # only a tensor of the input's size


ReLU = declare("ReLU", _Inplace, "max(0, x)", **OUTPUT)
ReLU6 = declare("ReLU6", _Inplace, "min(max(0, x), 6)", **INPUT)
LeakyReLU = declare(
    "LeakyReLU",
    _Inplace,
    "x if x > 0 else negative_slope·x",
    **IN_OR_OUT,
    negative_slope=arg(0.01, "float", "slope for x < 0", counts=False),
)
ELU = declare(
    "ELU", _Inplace, "x if x > 0 else alpha·(exp(x) − 1)", **IN_OR_OUT, alpha=arg(1.0, "float", "scale", counts=False)
)
CELU = declare(
    "CELU",
    _Inplace,
    "max(0, x) + min(0, alpha·(exp(x/alpha) − 1))",
    **IN_OR_OUT,
    alpha=arg(1.0, "float", "scale", counts=False),
)
SELU = declare("SELU", _Inplace, "scale·elu(x) with fixed constants", **IN_OR_OUT)
GELU = declare(
    "GELU",
    _Elementwise,
    "x·Φ(x)",
    **INPUT,
    approximate=arg("none", "choice", "'tanh' for the tanh approximation", counts=False, choices=("none", "tanh")),
)
SiLU = declare("SiLU", _Inplace, "x·sigmoid(x) (swish)", **INPUT)
Mish = declare("Mish", _Inplace, "x·tanh(softplus(x))", **INPUT)
Hardswish = declare("Hardswish", _Inplace, "x·relu6(x + 3)/6", **INPUT)
Hardsigmoid = declare("Hardsigmoid", _Inplace, "relu6(x + 3)/6", **INPUT)
Hardtanh = declare(
    "Hardtanh",
    _Inplace,
    "clamp(x, min_val, max_val)",
    **INPUT,
    min_val=arg(-1.0, "float", "lower bound", counts=False),
    max_val=arg(1.0, "float", "upper bound", counts=False),
)
Sigmoid = declare("Sigmoid", _Elementwise, "1 / (1 + exp(−x))", **OUTPUT)
Tanh = declare("Tanh", _Elementwise, "tanh(x)", **OUTPUT)
LogSigmoid = declare("LogSigmoid", _Elementwise, "log(sigmoid(x))", **INPUT_AND_ONE, elementwise=False)
Softsign = declare("Softsign", _Elementwise, "x / (1 + |x|)", **INPUT_AND_ONE)
Tanhshrink = declare("Tanhshrink", _Elementwise, "x − tanh(x)", **ONE_MORE)
Softplus = declare(
    "Softplus",
    _Elementwise,
    "log(1 + exp(beta·x)) / beta",
    **INPUT,
    beta=arg(1.0, "float", "sharpness", counts=False),
    threshold=arg(20.0, "float", "linear above this", counts=False),
)
Hardshrink = declare(
    "Hardshrink", _Elementwise, "x if |x| > lambd else 0", **INPUT, lambd=arg(0.5, "float", "threshold", counts=False)
)
Softshrink = declare(
    "Softshrink",
    _Elementwise,
    "x − sign(x)·lambd if |x| > lambd else 0",
    **INPUT,
    lambd=arg(0.5, "float", "threshold", counts=False),
)
Threshold = declare(
    "Threshold",
    _Inplace,
    "x if x > threshold else value",
    **INPUT,
    threshold=arg(REQUIRED, "float", "threshold", counts=False),
    value=arg(REQUIRED, "float", "replacement", counts=False),
)
RReLU = declare(
    "RReLU",
    _Inplace,
    "leaky relu with a random slope in [lower, upper] while training",
    **IN_OR_OUT_AND_ONE,
    elementwise=False,
    lower=arg(1 / 8, "float", "lowest slope", counts=False),
    upper=arg(1 / 3, "float", "highest slope", counts=False),
)


@kind_class
class _Softmax(_Elementwise):
    keeps = "output"
    autocast = "fp32_on_cuda"
    elementwise = False
    dim: int = arg(None, "int", "dim to normalise over (batch = 0); null: PyTorch's legacy implicit choice", min=None)

    primary = "dim"

    def output_shape(self, shapes: list[Shape]) -> Shape:
        if self.dim is not None:
            normalize_dim(self.dim, shapes[0])
        return shapes[0]

    def reach(self, shapes: list[Shape], out: Shape) -> ReachOf:
        # PyTorch's implicit dim is the channels for a (C, ...) sample; along any other dim every position counts
        d = 0 if self.dim is None else normalize_dim(self.dim, shapes[0])
        return PER_POSITION if d == 0 else (GLOBAL,) + (PER_POSITION,) * (len(out) - 1 - d)


class Softmax(_Softmax):
    """exp(x) / Σ exp(x) along dim."""

    kind, torch_name = "softmax", "Softmax"


class LogSoftmax(_Softmax):
    """log(softmax(x)) along dim."""

    kind, torch_name = "logsoftmax", "LogSoftmax"


class Softmin(_Softmax):
    """softmax(−x) along dim."""

    kind, torch_name = "softmin", "Softmin"


Softmax2d = declare(
    "Softmax2d", _Elementwise, "softmax over the channels of a (C, H, W) input", **OUTPUT, elementwise=False
)


@kind_class
class PReLU(_Elementwise):
    """x if x > 0 else a·x, with a learned slope a (one, or one per channel)."""

    num_parameters: int = arg(1, "int", "learned slopes: 1 or the number of channels")
    init: float = arg(0.25, "float", "initial slope", counts=False)
    device: str = device_arg()
    dtype: str = dtype_arg()

    kind, torch_name, primary = "prelu", "PReLU", "num_parameters"
    autocast = "lower"
    formulas = {**SAME, "weights": "num_parameters"}

    def output_shape(self, shapes: list[Shape]) -> Shape:
        channels = shapes[0][0] if shapes[0] else 1  # torch reads a 1-D batch as one channel
        if self.num_parameters not in (1, channels):
            raise ShapeError(
                f"num_parameters must be 1 or the input channels ({channels}), found {self.num_parameters}"
            )
        return shapes[0]

    def params(self, shapes: list[Shape]) -> Params:
        return Params(weights=self.num_parameters)


@kind_class
class GLU(Layer):
    """Gated linear unit: splits dim in half, a·sigmoid(b); that dim halves."""

    dim: int = arg(-1, "int", "dim to split (batch = 0)", min=None)

    kind, torch_name, primary = "glu", "GLU", "dim"
    formulas = {"output": "input with dim halved", "weights": "0", "bias": "0", "macs": "0"}

    def output_shape(self, shapes: list[Shape]) -> Shape:
        shape = shapes[0]
        d = normalize_dim(self.dim, shape)
        if shape[d] % 2:
            raise ShapeError(f"glu halves dim {self.dim}, which must be even, found {shape[d]}")
        return (*shape[:d], shape[d] // 2, *shape[d + 1 :])

    def saves(self, shapes: list[Shape], out: Shape, ctx: Context) -> Saved:
        return Saved(inputs=(0,))


KINDS = [
    ReLU,
    ReLU6,
    LeakyReLU,
    ELU,
    CELU,
    SELU,
    GELU,
    SiLU,
    Mish,
    Hardswish,
    Hardsigmoid,
    Hardtanh,
    Sigmoid,
    Tanh,
    LogSigmoid,
    Softsign,
    Tanhshrink,
    Softplus,
    Hardshrink,
    Softshrink,
    Threshold,
    RReLU,
    Softmax,
    LogSoftmax,
    Softmin,
    Softmax2d,
    PReLU,
    GLU,
]
