"""Layers that only move or keep values: flatten, identity, dropout."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import FieldError, ShapeError
from .base import Layer, arg, normalize_dim, prod


@dataclass(frozen=True)
class Flatten(Layer):
    """Merges dims start_dim..end_dim into one. Dims count as in PyTorch, the batch being dim 0:
    the default start_dim=1, end_dim=-1 turns a (C, H, W) sample into (C·H·W)."""

    start_dim: int = arg(1, "int", "first dim to merge (batch = 0, so 1 is the first per-sample dim)", min=None)
    end_dim: int = arg(-1, "int", "last dim to merge (negative counts from the end)", min=None)

    kind, torch_name = "flatten", "Flatten"
    formulas = {"output": "per-sample dims start_dim-1 .. end_dim-1 multiplied into one",
                "weights": "0", "bias": "0", "macs": "0"}

    def output_shape(self, shapes):
        (shape,) = shapes
        start = normalize_dim(self.start_dim, shape, "start_dim")
        end = normalize_dim(self.end_dim, shape, "end_dim")
        if start > end:
            raise ShapeError(f"start_dim={self.start_dim} comes after end_dim={self.end_dim}")
        return (*shape[:start], prod(shape[start:end + 1]), *shape[end + 1:])


@dataclass(frozen=True)
class Identity(Layer):
    """Passes its input through unchanged."""

    kind, torch_name = "identity", "Identity"
    formulas = {"output": "same as input", "weights": "0", "bias": "0", "macs": "0"}

    def output_shape(self, shapes):
        return shapes[0]


@dataclass(frozen=True)
class _Dropout(Layer):
    """Zeroes random elements (or channels) while training; shape unchanged, no parameters."""

    p: float = arg(0.5, "float", "probability of an element being zeroed", counts=False)
    inplace: bool = arg(False, "bool", "ignored", counts=False)

    primary = "p"
    formulas = {"output": "same as input", "weights": "0", "bias": "0", "macs": "0"}

    def validate(self):
        if not 0 <= self.p <= 1:
            raise FieldError("p", f"expects a probability between 0 and 1, found {self.p}")

    def output_shape(self, shapes):
        return shapes[0]


class Dropout(_Dropout):
    kind, torch_name = "dropout", "Dropout"


class Dropout1d(_Dropout):
    kind, torch_name = "dropout1d", "Dropout1d"


class Dropout2d(_Dropout):
    kind, torch_name = "dropout2d", "Dropout2d"


class Dropout3d(_Dropout):
    kind, torch_name = "dropout3d", "Dropout3d"


class AlphaDropout(_Dropout):
    kind, torch_name = "alphadropout", "AlphaDropout"


class FeatureAlphaDropout(_Dropout):
    kind, torch_name = "featurealphadropout", "FeatureAlphaDropout"


KINDS = [Flatten, Identity, Dropout, Dropout1d, Dropout2d, Dropout3d, AlphaDropout, FeatureAlphaDropout]
