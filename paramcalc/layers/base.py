"""What every layer kind shares: declared fields, their validation, and the counting interface.

A kind is a frozen dataclass. Each field is declared with `arg()`, which records its type,
its PyTorch synonyms and its meaning, so one declaration drives validation, `paramcalc kinds`
and the JSON Schema.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Any, ClassVar

from ..errors import FieldError, ShapeError, describe

Shape = tuple[int, ...]

REQUIRED = object()

# dtype name -> bytes per element, for param_bytes
DTYPE_BYTES = {
    "float64": 8, "double": 8, "float32": 4, "float": 4, "float16": 2, "half": 2,
    "bfloat16": 2, "int8": 1, "uint8": 1, "float8_e4m3fn": 1, "float8_e5m2": 1,
}


@dataclass(frozen=True)
class Params:
    weights: int = 0
    bias: int = 0
    buffers: int = 0

    @property
    def params(self) -> int:
        return self.weights + self.bias


@dataclass(frozen=True)
class Arg:
    """How one field is read. `type` is one of the TYPES below."""

    type: str
    doc: str
    aka: tuple[str, ...] = ()
    min: int | None = 1
    choices: tuple[str, ...] = ()
    counts: bool = True  # False: accepted for PyTorch compatibility, changes no count


# Every kind is declared with this: a frozen dataclass without generated __eq__/__repr__, which a
# kind never needs and which would cost a third of the import time (Layer has a __repr__).
kind_class = dataclasses.dataclass(frozen=True, eq=False, repr=False)


def arg(default: Any = REQUIRED, type: str = "int", doc: str = "", *, aka=(), min=1,
        choices=(), counts=True):
    return dataclasses.field(default=default, metadata={"arg": Arg(type, doc, tuple(aka), min,
                                                                   tuple(choices), counts)})


MAX_ELEMENTS = 2**63   # PyTorch sizes and element counts are int64


def _int(value, field, minimum, what="an integer"):
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(field, f"expects {_int_word(minimum, what)}, found {describe(value)}")
    if minimum is not None and value < minimum:
        raise FieldError(field, f"expects {_int_word(minimum, what)}, found {value}")
    if abs(value) >= MAX_ELEMENTS:
        raise FieldError(field, f"expects {_int_word(minimum, what)} below 2^63 (PyTorch's int64), "
                                f"found {describe(value)}")
    return value


def _int_word(minimum, what):
    return {1: "a positive integer", 0: "a non-negative integer"}.get(minimum, what)


def _size(value, field, minimum, n):
    """An int, or a list of exactly n ints (one per spatial dimension), as a tuple."""
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise FieldError(field, f"expects an integer or a list of {n}, found {describe(value)}")
        return tuple(_int(v, field, minimum) for v in value)
    return (_int(value, field, minimum),) * n


def _padding(value, field, minimum, n):
    if isinstance(value, str):
        if value.lower() in ("same", "valid"):
            return value.lower()
        raise FieldError(field, f"expects an integer, a list of {n}, 'same' or 'valid', found {describe(value)}")
    return _size(value, field, 0, n)


def _bool(value, field, minimum, n):
    if not isinstance(value, bool):
        raise FieldError(field, f"expects true or false, found {describe(value)}")
    return value


def _float(value, field, minimum, n):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FieldError(field, f"expects a number, found {describe(value)}")
    return value


def _optional_size(value, field, minimum, n):
    """Adaptive pooling output: an int, or a list of n entries each an int or null (keep that size)."""
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise FieldError(field, f"expects an integer or a list of {n}, found {describe(value)}")
        return tuple(None if v is None else _int(v, field, 1) for v in value)
    return (_int(value, field, 1),) * n


def _dims(value, field, minimum, n):
    if isinstance(value, (list, tuple)):
        return tuple(_int(v, field, None) for v in value)
    return _int(value, field, None)


def _floats(value, field, minimum, n):
    if isinstance(value, (list, tuple)):
        return tuple(_float(v, field, minimum, n) for v in value)
    return _float(value, field, minimum, n)


def _str(value, field, minimum, n):
    if not isinstance(value, str):
        raise FieldError(field, f"expects a string, found {describe(value)}")
    return value


TYPES = {
    "int": lambda v, f, m, n: _int(v, f, m),
    "size": _size,
    "padding": _padding,
    "bool": _bool,
    "float": _float,
    "optional_size": _optional_size,
    "dims": _dims,
    "floats": _floats,
    "str": _str,
    "choice": _str,
}


def normalize_dim(dim: int, shape: Shape, field: str = "dim") -> int:
    """A PyTorch dim (batch = dim 0, negatives from the end) -> an index into the per-sample shape."""
    rank = len(shape) + 1
    full = dim + rank if dim < 0 else dim
    if not 0 <= full < rank:
        raise ShapeError(f"{field}={dim} is out of range for an input of {rank} dimensions "
                         f"(batch + {fmt_shape(shape)})")
    if full == 0:
        raise ShapeError(f"{field}={dim} is the batch dimension; shapes are per sample, so "
                         f"dims count from 1 (dim 1 = the first per-sample dimension)")
    return full - 1


def fmt_shape(shape) -> str:
    return "[" + ", ".join("?" if s is None else str(s) for s in shape) + "]"


@functools.cache
def _declared(cls):
    """A kind's declared fields, their defaults and their accepted spellings, read once."""
    fields = {f.name: f.metadata["arg"] for f in dataclasses.fields(cls) if "arg" in f.metadata}
    defaults = {f.name: f.default for f in dataclasses.fields(cls) if "arg" in f.metadata}
    synonyms = {}
    for name, a in fields.items():
        synonyms[name] = name
        synonyms.update(dict.fromkeys(a.aka, name))
    return fields, defaults, synonyms


class Layer:
    """Base of every kind. Subclasses are frozen dataclasses built by `Layer.build`."""

    kind: ClassVar[str]
    torch_name: ClassVar[str]
    primary: ClassVar[str | None] = None
    arity: ClassVar[tuple[int, int | None]] = (1, 1)   # fewest and most inputs (None: no limit)
    ndim: ClassVar[int] = 1          # spatial dims, for per-dimension fields
    formulas: ClassVar[dict[str, str]] = {}

    def __repr__(self) -> str:
        values = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.fields())
        return f"{type(self).__name__}({values})"

    @classmethod
    def fields(cls) -> dict[str, Arg]:
        return _declared(cls)[0]

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return _declared(cls)[1]

    @classmethod
    def synonyms(cls) -> dict[str, str]:
        """Every accepted spelling (canonical and PyTorch's) -> canonical field name."""
        return _declared(cls)[2]

    @classmethod
    def build(cls, values: dict[str, Any]) -> "Layer":
        """Validate canonical field values (None = default) and construct the layer."""
        coerced = {}
        defaults = cls.defaults()
        for name, a in cls.fields().items():
            value = values.get(name)
            if value is None:
                value = defaults[name]
                if value is REQUIRED:
                    raise FieldError(name, f"needs field '{name}' ({a.doc})")
                if value is None:
                    coerced[name] = None
                    continue
            if a.type == "choice" and value not in a.choices:
                choices = ", ".join(repr(c) for c in a.choices)
                raise FieldError(name, f"expects one of {choices}, found {describe(value)}")
            coerced[name] = TYPES[a.type](value, name, a.min, cls.ndim)
        layer = cls(**coerced)
        layer.validate()
        return layer

    def validate(self) -> None:
        """Checks across fields; raise FieldError naming the offending field."""

    def output_shape(self, shapes: list[Shape]) -> Shape:
        raise NotImplementedError

    def params(self, shapes: list[Shape]) -> Params:
        return Params()

    def macs(self, shapes: list[Shape], out: Shape) -> int:
        return 0


def check_declared(declared: int | None, actual: int, field: str) -> None:
    """A size pasted from PyTorch code (in_channels=3) must agree with the inferred one."""
    if declared is not None and declared != actual:
        raise ShapeError(f"{field}={declared} was given, but the input has {actual}")


def expect_rank(shape: Shape, ranks: tuple[int, ...], layout: str) -> None:
    if len(shape) not in ranks:
        want = " or ".join(str(r) for r in ranks)
        raise ShapeError(f"expects a per-sample input of {want} dimensions {layout}, "
                         f"found {fmt_shape(shape)} ({len(shape)} dimensions)")


def prod(values) -> int:
    return math.prod(values)
