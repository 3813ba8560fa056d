"""The value classes (paramcalc/values.py) write their own __init__: it must take exactly their
fields, in order, with the fields' defaults (a default factory's field defaults to None), and they
must behave as the dataclasses they replace: equal by fields, a repr naming them, unhashable."""

import dataclasses
import inspect

import pytest

from paramcalc.report import BlockRow, LayerRow, Report, Totals
from paramcalc.spec import Spec, parse_spec

VALUE_CLASSES = [LayerRow, BlockRow, Totals, Report, Spec]


@pytest.mark.parametrize("cls", VALUE_CLASSES, ids=lambda c: c.__name__)
def test_init_takes_the_fields_in_order_with_their_defaults(cls):
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    fields = dataclasses.fields(cls)
    assert [p.name for p in params] == [f.name for f in fields]
    for p, f in zip(params, fields):
        if f.default is not dataclasses.MISSING:
            assert p.default == f.default, f.name
        elif f.default_factory is not dataclasses.MISSING:
            assert p.default is None, f.name
        else:
            assert p.default is inspect.Parameter.empty, f.name


@pytest.mark.parametrize("cls", VALUE_CLASSES, ids=lambda c: c.__name__)
def test_init_sets_every_field(cls):
    params = list(inspect.signature(cls.__init__).parameters)[1:]
    value = cls(*[f"value of {name}" for name in params])
    assert [getattr(value, name) for name in params] == [f"value of {name}" for name in params]


def test_default_factories_give_each_value_its_own():
    a, b = (Spec("n", {}, [], {}) for _ in range(2))
    assert a.outputs == [] and a.budget == {} and a.outputs is not b.outputs and a.budget is not b.budget
    r = Report("n", {}, 1, "float32", [], [], Totals(1, 1, 0, 1, 0, 0, 0, 4), {})
    assert r.warnings == [] and r.conventions["params"].startswith("weights + bias")


def test_they_behave_as_dataclasses():
    t = Totals(1, 1, 0, 1, 0, 0, 0, 4)
    assert t == Totals(1, 1, 0, 1, 0, 0, 0, 4) and t != Totals(2, 1, 0, 1, 0, 0, 0, 4) and t != (1, 1)
    assert repr(t) == (
        "Totals(params=1, trainable=1, non_trainable=0, weights=1, bias=0, buffers=0, macs=0, "
        "param_bytes=4, saved_bytes=0, peak_activation_bytes=0, active_params=0)"
    )
    assert dataclasses.replace(t, macs=7).macs == 7 and dataclasses.asdict(t)["param_bytes"] == 4
    with pytest.raises(TypeError):
        hash(t)
    spec = parse_spec("name: n\ninput: [3]\nlayers:\n  - linear: 2\n", "<t>")
    assert dataclasses.replace(spec, batch=4).batch == 4 and dataclasses.replace(spec).layers is spec.layers
    assert not hasattr(LayerRow(*range(14)), "__dict__")  # slots: 100,000 rows without a dict each
