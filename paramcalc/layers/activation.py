"""Activations: elementwise (shape unchanged, no MACs); prelu has parameters; glu halves a dim."""

from __future__ import annotations

from typing import ClassVar

from ..errors import ShapeError
from .base import device_arg, dtype_arg, GLOBAL, Layer, Params, REQUIRED, Saved, arg, kind_class, normalize_dim, prod
from .base import SAME as PER_POSITION   # SAME below is the formulas of shape-keeping kinds

SAME = {"output": "same as input", "weights": "0", "bias": "0", "macs": "0 (activations are not counted)"}


@kind_class
class _Elementwise(Layer):
    formulas = SAME
    # What PyTorch's backward keeps (measured, tests/fixtures/memory.json): its "input" or its
    # "output" (or nothing), and `extra` more tensors of the input's size (a buffer, a noise).
    keeps: ClassVar[str | None] = "input"
    extra: ClassVar[int] = 0

    def output_shape(self, shapes):
        return shapes[0]

    def saves(self, shapes, out, ctx):
        numel = ctx.batch * prod(shapes[0])
        extra = ((numel, "act"),) * self.extra
        if getattr(self, "inplace", False):
            # In place the output overwrites the input: a kind whose gradient needs the input keeps
            # a copy of it; one that needs only its output keeps the (shared) storage.
            if self.keeps == "output" or self.inplace_keeps == "output":
                return Saved(output=True, tensors=extra, alias=True)
            return Saved(tensors=((numel, "act"), *extra), alias=True)
        return Saved(inputs=(0,) if self.keeps == "input" else (), output=self.keeps == "output", tensors=extra)

    def reach(self, shapes, out):
        return PER_POSITION


@kind_class
class _Inplace(_Elementwise):
    inplace: bool = arg(False, "bool", "overwrite the input: allocates no output, and changes what backward keeps")

    inplace_keeps: ClassVar[str] = "copy"   # in place: "output" (the shared storage) or "copy" of the input


def _kind(name, torch_name, doc, base=_Inplace, saves=("input", 0, "copy"), **fields):
    """One activation class; `fields` are extra dataclass fields declared with arg(); `saves` is
    (keeps, extra, inplace_keeps)."""
    keeps, extra, inplace_keeps = saves
    namespace = {"kind": name, "torch_name": torch_name, "__doc__": doc, "keeps": keeps, "extra": extra,
                 "inplace_keeps": inplace_keeps, "__annotations__": {f: object for f in fields}, **fields}
    return kind_class(type(torch_name, (base,), namespace))


OUTPUT = ("output", 0, "output")   # its gradient needs only its output, in place or not
IN_OR_OUT = ("input", 0, "output")  # the input, or in place the output (the gradient can use either)

ReLU = _kind("relu", "ReLU", "max(0, x)", saves=OUTPUT)
ReLU6 = _kind("relu6", "ReLU6", "min(max(0, x), 6)")
LeakyReLU = _kind("leakyrelu", "LeakyReLU", "x if x > 0 else negative_slope·x", saves=IN_OR_OUT,
                  negative_slope=arg(0.01, "float", "slope for x < 0", counts=False))
ELU = _kind("elu", "ELU", "x if x > 0 else alpha·(exp(x) − 1)", saves=IN_OR_OUT,
            alpha=arg(1.0, "float", "scale", counts=False))
CELU = _kind("celu", "CELU", "max(0, x) + min(0, alpha·(exp(x/alpha) − 1))", saves=IN_OR_OUT,
             alpha=arg(1.0, "float", "scale", counts=False))
SELU = _kind("selu", "SELU", "scale·elu(x) with fixed constants", saves=IN_OR_OUT)
GELU = _kind("gelu", "GELU", "x·Φ(x)", base=_Elementwise,
             approximate=arg("none", "choice", "'tanh' for the tanh approximation", counts=False,
                             choices=("none", "tanh")))
SiLU = _kind("silu", "SiLU", "x·sigmoid(x) (swish)")
Mish = _kind("mish", "Mish", "x·tanh(softplus(x))")
Hardswish = _kind("hardswish", "Hardswish", "x·relu6(x + 3)/6")
Hardsigmoid = _kind("hardsigmoid", "Hardsigmoid", "relu6(x + 3)/6")
Hardtanh = _kind("hardtanh", "Hardtanh", "clamp(x, min_val, max_val)",
                 min_val=arg(-1.0, "float", "lower bound", counts=False),
                 max_val=arg(1.0, "float", "upper bound", counts=False))
Sigmoid = _kind("sigmoid", "Sigmoid", "1 / (1 + exp(−x))", base=_Elementwise, saves=OUTPUT)
Tanh = _kind("tanh", "Tanh", "tanh(x)", base=_Elementwise, saves=OUTPUT)
LogSigmoid = _kind("logsigmoid", "LogSigmoid", "log(sigmoid(x))", base=_Elementwise, saves=("input", 1, "copy"))
Softsign = _kind("softsign", "Softsign", "x / (1 + |x|)", base=_Elementwise, saves=("input", 1, "copy"))
Tanhshrink = _kind("tanhshrink", "Tanhshrink", "x − tanh(x)", base=_Elementwise, saves=(None, 1, "copy"))
Softplus = _kind("softplus", "Softplus", "log(1 + exp(beta·x)) / beta", base=_Elementwise,
                 beta=arg(1.0, "float", "sharpness", counts=False),
                 threshold=arg(20.0, "float", "linear above this", counts=False))
Hardshrink = _kind("hardshrink", "Hardshrink", "x if |x| > lambd else 0", base=_Elementwise,
                   lambd=arg(0.5, "float", "threshold", counts=False))
Softshrink = _kind("softshrink", "Softshrink", "x − sign(x)·lambd if |x| > lambd else 0", base=_Elementwise,
                   lambd=arg(0.5, "float", "threshold", counts=False))
Threshold = _kind("threshold", "Threshold", "x if x > threshold else value",
                  threshold=arg(REQUIRED, "float", "threshold", counts=False),
                  value=arg(REQUIRED, "float", "replacement", counts=False))
RReLU = _kind("rrelu", "RReLU", "leaky relu with a random slope in [lower, upper] while training",
              saves=("input", 1, "output"),
              lower=arg(1 / 8, "float", "lowest slope", counts=False),
              upper=arg(1 / 3, "float", "highest slope", counts=False))


@kind_class
class _Softmax(_Elementwise):
    keeps = "output"
    dim: int = arg(None, "int", "dim to normalise over (batch = 0); null: PyTorch's legacy implicit choice",
                   min=None)

    primary = "dim"

    def output_shape(self, shapes):
        if self.dim is not None:
            normalize_dim(self.dim, shapes[0])
        return shapes[0]

    def reach(self, shapes, out):
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


Softmax2d = _kind("softmax2d", "Softmax2d", "softmax over the channels of a (C, H, W) input", base=_Elementwise,
                  saves=OUTPUT)


@kind_class
class PReLU(_Elementwise):
    """x if x > 0 else a·x, with a learned slope a (one, or one per channel)."""

    num_parameters: int = arg(1, "int", "learned slopes: 1 or the number of channels")
    init: float = arg(0.25, "float", "initial slope", counts=False)
    device: str = device_arg()
    dtype: str = dtype_arg()

    kind, torch_name, primary = "prelu", "PReLU", "num_parameters"
    formulas = {**SAME, "weights": "num_parameters"}

    def output_shape(self, shapes):
        channels = shapes[0][0] if shapes[0] else 1   # torch reads a 1-D batch as one channel
        if self.num_parameters not in (1, channels):
            raise ShapeError(f"num_parameters must be 1 or the input channels ({channels}), "
                             f"found {self.num_parameters}")
        return shapes[0]

    def params(self, shapes):
        return Params(weights=self.num_parameters)


@kind_class
class GLU(Layer):
    """Gated linear unit: splits dim in half, a·sigmoid(b); that dim halves."""

    dim: int = arg(-1, "int", "dim to split (batch = 0)", min=None)

    kind, torch_name, primary = "glu", "GLU", "dim"
    formulas = {"output": "input with dim halved", "weights": "0", "bias": "0", "macs": "0"}

    def output_shape(self, shapes):
        shape = shapes[0]
        d = normalize_dim(self.dim, shape)
        if shape[d] % 2:
            raise ShapeError(f"glu halves dim {self.dim}, which must be even, found {shape[d]}")
        return (*shape[:d], shape[d] // 2, *shape[d + 1:])

    def saves(self, shapes, out, ctx):
        return Saved(inputs=(0,))


KINDS = [ReLU, ReLU6, LeakyReLU, ELU, CELU, SELU, GELU, SiLU, Mish, Hardswish, Hardsigmoid, Hardtanh,
         Sigmoid, Tanh, LogSigmoid, Softsign, Tanhshrink, Softplus, Hardshrink, Softshrink, Threshold,
         RReLU, Softmax, LogSoftmax, Softmin, Softmax2d, PReLU, GLU]
