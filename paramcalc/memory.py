"""Memory: what a network needs to train or to run, from its Analysis. Pure: no I/O, no printing.

Activations are activations.py's, as PyTorch's autograd keeps them. Model states follow the ZeRO
paper (Rajbhandari et al., "ZeRO: Memory Optimizations Toward Training Trillion Parameter Models", 2020):
parameters, gradients and optimizer states (with fp32 master weights in mixed precision), partitioned
across data-parallel devices by stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .activations import activations, checkpointed
from .errors import SpecError, did_you_mean
from .layers.base import DTYPE_BYTES, Context

# precision -> (bytes of weights, activations and gradients; of master weights; of optimizer state)
PRECISIONS = {
    "fp32": (4, 0, 4),
    "bf16": (2, 0, 2),
    "fp16": (2, 0, 2),
    "bf16-mixed": (2, 4, 4),
    "fp16-mixed": (2, 4, 4),
}
ACTIVATION_DTYPE = {
    "fp32": "float32",
    "bf16": "bfloat16",
    "fp16": "float16",
    "bf16-mixed": "bfloat16",
    "fp16-mixed": "float16",
}
# optimizer -> (state tensors per parameter, as large as it; whether it keeps a float32 `step` tensor per
# parameter tensor), as torch.optim keeps them with default arguments (momentum: SGD(momentum=0.9))
OPTIMIZERS = {
    "sgd": (0, False),
    "momentum": (1, False),
    "adam": (2, True),
    "adamw": (2, True),
    "adagrad": (1, True),
    "rmsprop": (1, True),
}
# inference weight formats: bits per element (scales and zero points of quantised formats not counted)
WEIGHT_BITS = {"fp32": 32, "bf16": 16, "fp16": 16, "fp8": 8, "int8": 8, "int4": 4}
ATTENTION = ("flash", "math")
DEVICES = ("cuda", "cpu")
STEP_BYTES = 4  # a float32 scalar tensor


@dataclass(frozen=True)
class Settings:
    train: bool = True
    batch: int | None = None  # None: the spec's
    precision: str = "fp32"
    optimizer: str = "adamw"
    zero: int = 0
    devices: int = 1
    checkpoint: bool = False
    kv_cache: int = 0  # sequence length to cache keys and values for (0: none)
    weights: str | None = None  # inference weight format (None: the precision's)
    attention: str = "flash"
    device: str = "cuda"

    def validate(self) -> None:
        """Bad combinations are bad input: a SpecError each (exit 2)."""
        for value, choices, what in (
            (self.precision, PRECISIONS, "precision"),
            (self.optimizer, OPTIMIZERS, "optimizer"),
            (self.attention, ATTENTION, "attention"),
            (self.device, DEVICES, "device"),
        ):
            if value not in choices:
                raise SpecError(
                    f"unknown {what} '{value}' (one of {', '.join(choices)})", hint=did_you_mean(value, choices)
                )
        if self.weights is not None and self.weights not in WEIGHT_BITS:
            raise SpecError(
                f"unknown weight format '{self.weights}' (one of {', '.join(WEIGHT_BITS)})",
                hint=did_you_mean(self.weights, WEIGHT_BITS),
            )
        if self.zero not in (0, 1, 2, 3):
            raise SpecError(f"zero stage must be 0, 1, 2 or 3, found {self.zero}")
        if self.devices < 1:
            raise SpecError(f"devices must be at least 1, found {self.devices}")
        if self.zero and self.devices == 1:
            raise SpecError(
                f"ZeRO stage {self.zero} partitions across devices: give --devices N (N > 1; in a budget, devices: N)"
            )
        if self.weights is not None and self.train:
            raise SpecError("a weight format (int8, int4, fp8, ...) is for inference: add --inference")
        if self.zero and not self.train:
            raise SpecError("ZeRO partitions training state: drop --zero, or train")
        if self.checkpoint and not self.train:
            raise SpecError("activation checkpointing is for training: drop --checkpoint, or train")

    def as_dict(self, batch: int) -> dict:
        return {
            "mode": "train" if self.train else "inference",
            "batch": batch,
            "precision": self.precision,
            "optimizer": self.optimizer if self.train else None,
            "zero": self.zero,
            "devices": self.devices,
            "checkpoint": self.checkpoint,
            "kv_cache": self.kv_cache,
            "weights": self.weights or ("fp32" if self.precision == "fp32" else self.precision.split("-")[0]),
            "attention": self.attention,
            "device": self.device,
        }


@dataclass(frozen=True)
class Memory:
    name: str
    batch: int
    settings: dict
    components: dict[str, int]
    total: int
    per_device: int
    per_device_components: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The JSON contract of `paramcalc memory` (keys only ever added). All in bytes."""
        return {
            "schema_version": 1,
            "name": self.name,
            "batch": self.batch,
            "settings": self.settings,
            "components": self.components,
            "total": self.total,
            "per_device": self.per_device,
            "per_device_components": self.per_device_components,
        }


# ---------------------------------------------------------------- the whole bill


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def memory(analysis, settings: Settings) -> Memory:
    """What training (or inference) needs, by component, for one model replica and per device, from
    an Analysis (its report and the Layer of every row)."""
    report, layers = analysis.report, analysis.layers
    settings.validate()
    if settings.kv_cache and settings.train:
        raise SpecError("a KV cache is kept when decoding: add --inference")
    batch = settings.batch or report.batch
    ctx = Context(batch, settings.device, settings.attention)
    width, master_width, state_width = PRECISIONS[settings.precision]
    dtype = ACTIVATION_DTYPE[settings.precision]
    t = report.totals
    bits = WEIGHT_BITS[settings.weights] if settings.weights else 8 * width
    components = dict.fromkeys(
        (
            "parameters",
            "gradients",
            "optimizer_state",
            "master_weights",
            "saved_activations",
            "activations",
            "kv_cache",
        ),
        0,
    )
    components["parameters"] = _ceil_div(t.params * bits, 8)
    if settings.train:
        per_param, step = OPTIMIZERS[settings.optimizer]
        tensors = sum(
            max(layer.param_tensors([tuple(s) for s in row.input_shapes]) - (1 if row.shared else 0), 0)
            for row, layer in zip(report.layers, layers)
            if row.trainable
        )
        components["gradients"] = t.trainable * width
        components["master_weights"] = t.trainable * master_width
        components["optimizer_state"] = t.trainable * per_param * state_width + (tensors * STEP_BYTES if step else 0)
        components["saved_activations"] = (
            checkpointed(report, layers, ctx, dtype)
            if settings.checkpoint
            else activations(report, layers, ctx, dtype).saved_total
        )
    else:
        components["activations"] = activations(report, layers, ctx, dtype).peak
    if settings.kv_cache:
        per_position = sum(
            layer.kv_cache([tuple(s) for s in row.input_shapes]) for row, layer in zip(report.layers, layers)
        )
        components["kv_cache"] = per_position * settings.kv_cache * batch * DTYPE_BYTES[dtype]
    # ZeRO: stage 1 partitions optimizer states (master weights with them), 2 gradients too, 3 parameters too.
    partitioned = {"optimizer_state": 1, "master_weights": 1, "gradients": 2, "parameters": 3}
    per_device = {
        key: _ceil_div(value, settings.devices) if settings.zero >= partitioned.get(key, 4) else value
        for key, value in components.items()
    }
    return Memory(
        report.name,
        batch,
        settings.as_dict(batch),
        components,
        sum(components.values()),
        sum(per_device.values()),
        per_device,
    )
