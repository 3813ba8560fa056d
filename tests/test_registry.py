"""The registry is the single list of kinds: every kind class is in it, every declared field is seen,
and every kind has torch-measured cases in the layer fixture."""

import json
from pathlib import Path

from paramcalc.layers import REGISTRY, Layer
from paramcalc.layers.base import arg

FIELD = type(arg(0))  # what arg() declares, before @kind_class reads it

CASES = json.loads((Path(__file__).parent / "fixtures" / "layers.json").read_text())["cases"]


def all_subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from all_subclasses(sub)


def test_every_kind_class_is_registered():
    concrete = {cls for cls in all_subclasses(Layer) if "kind" in vars(cls) and cls.__module__.startswith("paramcalc.")}
    missing = {cls.__name__ for cls in concrete if REGISTRY.get(cls.kind) is not cls}
    assert not missing, f"kind classes not in their module's KINDS list: {sorted(missing)}"


def test_no_arg_field_is_lost():
    """A subclass that declares arg() fields without @kind_class would silently drop them."""
    for cls in REGISTRY.values():
        cls.fields()
    lost = [
        f"{cls.__name__}.{name}"
        for cls in all_subclasses(Layer)
        for name, value in vars(cls).items()
        if isinstance(value, FIELD)
    ]
    assert not lost, f"arg() fields declared without @kind_class: {lost}"


def test_every_kind_has_torch_cases():
    measured = {c["kind"] for c in CASES if "error" not in c["expected"]}
    untestable = {"stochasticdepth"}  # random per sample in training; identity at eval: no count to measure
    assert set(REGISTRY) - untestable <= measured, sorted(set(REGISTRY) - untestable - measured)
