"""The registry is the single list of kinds: every kind class is in it, every declared field is seen,
and every kind has torch-measured cases in the layer fixture."""

import json
from pathlib import Path

import pytest

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


def _binding(cls) -> str:
    """How export writes a kind: its own constructor, an expression in forward, a tensor registered on its
    parent, nn.<torch_name> with its fields as keywords (Layer's default), or none (with the reason)."""
    if cls.unexportable:
        return "none"
    if cls.torch_tensor:
        return "tensor" if cls.torch_register is not Layer.torch_register else ""
    if cls.torch_forward is not Layer.torch_forward:
        return "forward"
    if cls.torch_module is not Layer.torch_module:
        return "module"
    return "default" if cls.torch_name.isidentifier() else ""


def test_every_kind_has_a_pytorch_binding():
    """A new kind says how `paramcalc export` writes it, next to its counting code in its family file:
    torch_module (an nn constructor call) or torch_forward (an expression in forward), or `unexportable`
    with the reason. Layer's default, nn.<torch_name>(**fields), serves only plain nn names."""
    missing = sorted(kind for kind, cls in REGISTRY.items() if not _binding(cls))
    assert not missing, (
        f"kinds without a PyTorch binding (torch_module or torch_forward in their family file): {missing}"
    )


def test_default_bindings_name_torch_nn_classes():
    """A kind left to the default binding is a class of torch.nn with that name (checked against torch)."""
    nn = pytest.importorskip("torch.nn")
    wrong = sorted(
        kind for kind, cls in REGISTRY.items() if _binding(cls) == "default" and not hasattr(nn, cls.torch_name)
    )
    assert not wrong, f"kinds bound to nn.<torch_name> that torch.nn does not have: {wrong}"


def test_generated_classes_are_defined_by_their_source():
    """Each class a kind has export write (torch_classes: name -> source) is defined by that source."""
    import ast

    for cls in REGISTRY.values():
        for name, source in cls.torch_classes.items():
            defined = [n.name for n in ast.parse(source).body if isinstance(n, (ast.ClassDef, ast.FunctionDef))]
            assert defined == [name], (cls.kind, name, defined)
