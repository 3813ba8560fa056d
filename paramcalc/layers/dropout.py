"""Dropout: zeroes random elements (or channels) while training; shape unchanged, no parameters."""

from __future__ import annotations

from ..errors import FieldError
from .base import SAME, Context, Layer, ReachOf, Saved, Shape, arg, kind_class, prod  # for annotations


@kind_class
class _Dropout(Layer):
    """Zeroes random elements (or channels) while training; shape unchanged, no parameters."""

    p: float = arg(0.5, "float", "probability of an element being zeroed", counts=False)
    inplace: bool = arg(False, "bool", "overwrite the input: allocates no output")

    primary = "p"
    formulas = {"output": "same as input", "weights": "0", "bias": "0", "macs": "0"}
    feature = False  # one mask value per channel, not per element
    elementwise = True

    def validate(self) -> None:
        if not 0 <= self.p <= 1:
            raise FieldError.of_value("p", f"expects a probability between 0 and 1, found {self.p}")

    def output_shape(self, shapes: list[Shape]) -> Shape:
        return shapes[0]

    def saves(self, shapes: list[Shape], out: Shape, ctx: Context) -> Saved:
        if self.p == 0:
            return Saved(alias=True)  # PyTorch returns the input itself
        elements = ctx.batch * (shapes[0][0] if self.feature else prod(shapes[0]))
        # CUDA's fused kernel keeps a bool mask; elsewhere the mask is a tensor in the activation dtype.
        fused = ctx.device == "cuda" and type(self).kind == "dropout"
        return Saved(tensors=((elements, "bool" if fused else "act"),), alias=self.inplace)

    def reach(self, shapes: list[Shape], out: Shape) -> ReachOf:
        return SAME


class Dropout(_Dropout):
    kind, torch_name = "dropout", "Dropout"
    tensor_parallel = "replicated"


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


KINDS = [Dropout, Dropout1d, Dropout2d, Dropout3d, AlphaDropout, FeatureAlphaDropout]
