"""A torch module -> {kind: fields}, and the weights layers share (`tie:`)."""

from __future__ import annotations

from typing import Any

from ...layers import REGISTRY

# Classes outside torch.nn that compute what the kind of their name computes (checked against torch by
# tests/fixtures/torch_import.json). Any other class is never taken for a kind by its name alone:
# transformers' GPT-2 `Conv1D` is a linear layer, timm's `Scale` holds a parameter.
_TRUSTED = {
    "torchvision.models.convnext.LayerNorm2d",
    "torchvision.ops.misc.Permute",
    "torchvision.ops.stochastic_depth.StochasticDepth",
}


def _kind_class(module: Any) -> type[Any] | None:
    """The class or its nearest torch.nn base whose name is a kind (NonDynamicallyQuantizableLinear is a
    Linear), provided the module computes what that class computes."""
    for cls in type(module).__mro__:
        if cls.__name__.lower() not in REGISTRY or cls.__name__ == "Parameter":
            continue
        if not (cls.__module__.startswith("torch.nn.") or f"{cls.__module__}.{cls.__qualname__}" in _TRUSTED):
            continue
        same = getattr(type(module), "forward", None) is getattr(cls, "forward", None)
        return cls if same else None  # a subclass computing something else (LayerNorm2d)
    return None


def _empty_container(module) -> bool:
    """An empty nn.Sequential passes its input through."""
    import torch

    return type(module).forward is torch.nn.Sequential.forward and len(module) == 0


def module_layer(module) -> dict | None:
    """{kind: fields} for a leaf module paramcalc knows, else None."""
    base = _kind_class(module)
    if base is None:
        return {"identity": {}} if _empty_container(module) else None
    kind = base.__name__.lower()
    cls = REGISTRY[kind]
    fields = {}
    defaults = cls.defaults()
    for name, arg in cls.fields().items():
        if name in ("device", "dtype") or not arg.counts and name not in ("eps", "p", "approximate", "mode"):
            continue
        value = _attribute(module, name, arg)
        if value is _MISSING or value is None:
            continue
        value = _plain(value, arg)
        default = defaults[name]
        if value == default or (isinstance(value, list) and default is not None and value == [default] * len(value)):
            continue
        if isinstance(value, (bool, int, float, str)) or (
            isinstance(value, list) and all(v is None or isinstance(v, (int, float)) for v in value)
        ):
            fields[name] = value
    return {kind: fields}


def _plain(value, arg):
    """A tuple as a list, or one number where every dim has the same size."""
    if not isinstance(value, tuple):
        return value
    value = list(value)
    if len(set(value)) == 1 and arg.type in ("size", "padding", "optional_size"):
        return value[0]
    return value


_MISSING = object()


def _attribute(module, name, arg):
    if name == "bias" and hasattr(module, "in_proj_bias"):  # MultiheadAttention
        return module.in_proj_bias is not None
    if name == "add_bias_kv":
        return getattr(module, "bias_k", None) is not None
    if name == "bias":
        value = getattr(module, "bias", _MISSING)
        return value if isinstance(value, bool) or value is _MISSING else value is not None
    for attribute in (name, *arg.aka):
        if hasattr(module, attribute):
            value = getattr(module, attribute)
            return tuple(value) if isinstance(value, list) else value
    return _MISSING


def weight_owner(module, kind: str, owners: dict) -> str | None:
    """The layer that already holds this module's weight (the same module called again, or a module
    sharing the tensor, as a tied output head does): the spec says `tie:`. Only kinds with a weight
    can share one; a module without a weight called twice is simply two layers."""
    weight = getattr(module, "weight", None)
    if weight is None or not REGISTRY[kind].has_weight():
        return None
    return owners.get(id(weight))


def own_weight(module, kind: str, owners: dict, name: str) -> None:
    weight = getattr(module, "weight", None)
    if weight is not None and REGISTRY[kind].has_weight():
        owners.setdefault(id(weight), name)
