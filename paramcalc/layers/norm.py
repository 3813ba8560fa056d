"""Normalisation: batchnorm1d/2d/3d."""

from __future__ import annotations

from dataclasses import dataclass

from .base import DTYPE_BYTES, Layer, Params, arg, check_declared, expect_rank


@dataclass(frozen=True)
class _BatchNormNd(Layer):
    """Normalises each channel over the batch; C is inferred from the input."""

    eps: float = arg(1e-5, "float", "added to the variance", counts=False)
    momentum: float = arg(0.1, "float", "running-stats update rate", counts=False)
    affine: bool = arg(True, "bool", "learn a scale (weight) and shift (bias) per channel")
    track_running_stats: bool = arg(True, "bool", "keep running mean/var buffers and a batch counter")
    device: str = arg(None, "str", "ignored", counts=False)
    dtype: str = arg(None, "choice", "parameter dtype (param_bytes)", choices=tuple(DTYPE_BYTES))
    num_features: int = arg(None, "int", "channels: inferred from the input; if given, checked against it",
                            counts=False)

    formulas = {
        "output": "same as input",
        "weights": "C (when affine)", "bias": "C (when affine)",
        "buffers": "2·C + 1 (running_mean, running_var, num_batches_tracked) when track_running_stats",
        "macs": "0 (normalisation is not counted)",
    }

    def output_shape(self, shapes):
        (shape,) = shapes
        expect_rank(shape, self.ranks, self.layout)
        check_declared(self.num_features, shape[0], "num_features")
        return shape

    def params(self, shapes):
        c = shapes[0][0]
        return Params(weights=c if self.affine else 0, bias=c if self.affine else 0,
                      buffers=2 * c + 1 if self.track_running_stats else 0)


class BatchNorm1d(_BatchNormNd):
    kind, torch_name, ranks, layout = "batchnorm1d", "BatchNorm1d", (1, 2), "(C) or (C, L)"


class BatchNorm2d(_BatchNormNd):
    kind, torch_name, ranks, layout = "batchnorm2d", "BatchNorm2d", (3,), "(C, H, W)"


class BatchNorm3d(_BatchNormNd):
    kind, torch_name, ranks, layout = "batchnorm3d", "BatchNorm3d", (4,), "(C, D, H, W)"


KINDS = [BatchNorm1d, BatchNorm2d, BatchNorm3d]
