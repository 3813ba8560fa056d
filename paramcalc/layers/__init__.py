"""The layer registry: every kind by its lowercase name (PyTorch's class name, lowercased)."""

from __future__ import annotations

from . import (
    activation,
    attention,
    conv,
    dropout,
    linear,
    merge,
    moe,
    norm,
    padding,
    pool,
    recurrent,
    resample,
    reshape,
    ssm,
)
from .base import Layer, Params, Shape

FAMILIES = {
    "conv": conv,
    "pool": pool,
    "norm": norm,
    "linear": linear,
    "recurrent": recurrent,
    "attention": attention,
    "reshape": reshape,
    "dropout": dropout,
    "resample": resample,
    "padding": padding,
    "activation": activation,
    "merge": merge,
    "moe": moe,
    "ssm": ssm,
}

REGISTRY: dict[str, type[Layer]] = {cls.kind: cls for module in FAMILIES.values() for cls in module.KINDS}


def normalize_kind(name: str) -> str:
    """Kinds match PyTorch's class names case-insensitively; underscores are ignored
    (so `BatchNorm2d`, `batchnorm2d` and `channel_shuffle` all work)."""
    return name.lower().replace("_", "")


def family_of(cls: type[Layer]) -> str:
    return next(name for name, module in FAMILIES.items() if cls in module.KINDS)


__all__ = ["REGISTRY", "Layer", "Params", "Shape", "normalize_kind", "family_of"]
