"""Value classes: dataclasses (so `fields`, `asdict` and `replace` work on them) whose `__init__` is
written in the class, and whose `==` and repr are the two functions below, shared by all.

Why not plain `@dataclass`: it compiles its `__init__`, `__repr__` and `__eq__` from generated text
at import, about 0.3 ms each, and the report's and spec's classes are imported by every command.
Written methods come compiled from the .pyc. tests/test_values.py holds each `__init__` to its
fields (names, order, defaults).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import TYPE_CHECKING, Any

_READERS: dict[type, tuple[tuple[str, ...], Callable[[Any], tuple]]] = {}


def reader(cls) -> tuple[tuple[str, ...], Callable[[Any], tuple]]:
    """A value class's field names and one getter of all their values, made once per class, so a
    field added to a class needs no change here."""
    if cls not in _READERS:
        names = tuple(f.name for f in fields(cls))
        getter = attrgetter(*names) if len(names) > 1 else lambda value: (getattr(value, names[0]),)
        _READERS[cls] = names, getter
    return _READERS[cls]


def _equal(self, other) -> bool:
    """As a dataclass's ==: the same class and equal fields, in order."""
    if other.__class__ is not self.__class__:
        return NotImplemented
    values = reader(self.__class__)[1]
    return values(self) == values(other)


def _repr(self) -> str:
    names, values = reader(self.__class__)
    shown = ", ".join(f"{name}={value!r}" for name, value in zip(names, values(self)))
    return f"{self.__class__.__qualname__}({shown})"


def _value_class(cls=None, *, slots: bool = False):
    """`@dataclass` (or `@dataclass(slots=True)`) for a class that writes its own `__init__`."""

    def wrap(cls):
        cls.__eq__, cls.__repr__, cls.__hash__ = _equal, _repr, None  # as a dataclass with eq: unhashable
        return dataclass(cls, init=False, repr=False, eq=False, slots=slots)

    return wrap if cls is None else wrap(cls)


if TYPE_CHECKING:  # a type checker sees the dataclasses these are (their written __init__ wins)
    from dataclasses import dataclass as value_class
else:
    value_class = _value_class
