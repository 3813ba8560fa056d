"""What start-up and the kind declarations promise: `import paramcalc` loads nothing else, each
command loads only what it uses, a kind is declared like a frozen dataclass, and identical layers
are built once. (Speed itself is measured by benchmarks/bench.py, never asserted here.)"""

import subprocess
import sys

import pytest

from paramcalc import analyze, parse_spec
from paramcalc.layers import REGISTRY
from paramcalc.layers.base import REQUIRED, Layer, arg, kind_class


def loaded_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running `code`."""
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(out.split())


def cli_loaded(*args: str) -> set[str]:
    return loaded_after(f"import sys\nfrom paramcalc.cli import app\ntry: app({list(args)!r})\nexcept SystemExit: pass")


def test_import_paramcalc_loads_no_other_module_of_ours():
    assert {m for m in loaded_after("import paramcalc") if m.startswith("paramcalc")} == {"paramcalc"}


def test_public_names_load_on_first_use():
    import paramcalc
    import paramcalc.analysis  # the module has a name of its own: importing it binds nothing over `analyze`

    assert callable(paramcalc.analyze) and paramcalc.Analysis is paramcalc.analysis.Analysis
    assert paramcalc.Report.__name__ == "Report" and paramcalc.graph.MAX_LAYERS > 0
    with pytest.raises(AttributeError):
        _ = paramcalc.no_such_name


@pytest.mark.parametrize(
    "args, unused",
    [
        (["--help"], {"yaml", "rich", "paramcalc.layers", "paramcalc.analysis", "paramcalc.spec"}),
        (["schema"], {"rich", "paramcalc.analysis", "paramcalc.graph"}),
        (["kinds", "--format", "json"], {"rich", "yaml", "paramcalc.analysis", "paramcalc.spec"}),
        # (decimal takes longer to import than a small spec to check: units round in integers)
        (["check", "specs/resnet18.yaml"], {"rich", "decimal", "paramcalc.export"}),
        (["analyze", "specs/resnet18.yaml", "--format", "json"], {"rich", "decimal", "paramcalc.timeline"}),
    ],
)
def test_commands_load_only_what_they_use(args, unused):
    assert not cli_loaded(*args) & unused


@kind_class
class _Base(Layer):
    a: int = arg(REQUIRED, "int", "first")
    b: int = arg(2, "int", "second", aka=("bee",))
    c: str = arg("x", "str", "third")


@kind_class
class _Child(_Base):
    b: int = arg(3, "int", "second, again")  # declared again: keeps its place
    c: str = "fixed"  # a plain value: no longer a field
    d: bool = arg(False, "bool", "fourth")
    kind, torch_name = "_child", "_Child"


def test_a_kind_is_declared_as_a_frozen_dataclass_would_be():
    assert list(_Child.fields()) == ["a", "b", "d"]
    assert _Child.defaults() == {"a": REQUIRED, "b": 3, "d": False}
    assert _Base.synonyms() == {"a": "a", "b": "b", "bee": "b", "c": "c"}
    assert _Child.synonyms() == {"a": "a", "b": "b", "d": "d"}  # the new declaration has no synonym
    layer = _Child.build({"a": 1})
    assert (layer.a, layer.b, layer.c, layer.d) == (1, 3, "fixed", False)
    assert repr(layer) == "_Child(a=1, b=3, d=False)"
    with pytest.raises(AttributeError):
        layer.a = 2
    with pytest.raises(TypeError):
        _Child(a=1, e=2)
    with pytest.raises(TypeError):

        @kind_class
        class _Unannotated(Layer):
            x = arg(1)


def test_identical_layers_are_built_once_and_values_of_other_types_are_not_confused():
    conv = REGISTRY["conv2d"]
    assert conv.build({"out": 8, "kernel": [3, 3]}) is conv.build({"out": 8, "kernel": [3, 3]})
    assert conv.build({"out": 8, "kernel": 3}) is not conv.build({"out": 8, "kernel": 3, "bias": False})
    assert conv.build({"out": 8, "kernel": 3, "bias": True}).bias is True
    with pytest.raises(Exception, match="true or false"):
        conv.build({"out": 8, "kernel": 3, "bias": 1})  # 1 == True, but not a boolean
    dropout = REGISTRY["dropout"]
    assert repr(dropout.build({"p": 0.0}).p) == "0.0" and repr(dropout.build({"p": -0.0}).p) == "-0.0"


def test_a_repeated_block_gives_the_rows_of_the_same_block_written_out():
    unit = "      - conv2d: {out: $w, kernel: 3, padding: 1}\n      - batchnorm2d\n      - relu\n"
    repeated = analyze(
        parse_spec(
            "input: [4, 8, 8]\nblocks:\n  unit:\n    args: {w: 4}\n    layers:\n"
            + unit
            + "layers:\n  - repeat: 3\n    unit: {w: 6}\n    first: {w: 5}\n",
            "<r>",
        )
    )
    written = analyze(
        parse_spec(
            "input: [4, 8, 8]\nlayers:\n"
            + "".join(
                f"  - conv2d: {{out: {w}, kernel: 3, padding: 1}}\n  - batchnorm2d\n  - relu\n" for w in (5, 6, 6)
            ),
            "<w>",
        )
    )
    fields = ("kind", "input_shapes", "output_shape", "weights", "bias", "params", "buffers", "macs")
    assert [[getattr(r, f) for f in fields] for r in repeated.layers] == [
        [getattr(r, f) for f in fields] for r in written.layers
    ]
    assert repeated.totals == written.totals
