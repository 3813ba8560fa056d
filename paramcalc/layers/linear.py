"""Fully connected layers."""

from __future__ import annotations

from dataclasses import dataclass

from .base import DTYPE_BYTES, REQUIRED, Layer, Params, arg, check_declared, expect_rank, prod


@dataclass(frozen=True)
class Linear(Layer):
    """y = x·Wᵀ + b on the last dimension; any leading dimensions are kept."""

    out: int = arg(REQUIRED, "int", "output features", aka=("out_features",))
    bias: bool = arg(True, "bool", "learn an additive bias")
    device: str = arg(None, "str", "ignored", counts=False)
    dtype: str = arg(None, "choice", "parameter dtype (param_bytes)", choices=tuple(DTYPE_BYTES))
    in_features: int = arg(None, "int", "input features: inferred from the input; if given, checked against it",
                           counts=False)

    kind, torch_name, primary = "linear", "Linear", "out"
    formulas = {
        "output": "(*leading, out)",
        "weights": "in · out", "bias": "out (when bias)",
        "macs": "Π leading · in · out",
    }

    def output_shape(self, shapes):
        (shape,) = shapes
        expect_rank(shape, tuple(range(1, 9)), "(..., features)")
        check_declared(self.in_features, shape[-1], "in_features")
        return (*shape[:-1], self.out)

    def params(self, shapes):
        return Params(weights=shapes[0][-1] * self.out, bias=self.out if self.bias else 0)

    def macs(self, shapes, out):
        return prod(shapes[0]) * self.out


KINDS = [Linear]
