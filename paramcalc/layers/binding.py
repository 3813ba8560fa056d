"""A kind's PyTorch binding, as text: the pieces each kind's `torch_module` and `torch_forward` build
(see Layer in base.py), which paramcalc/export/ writes out. Nothing here imports torch.

A module kind answers a constructor call, `Call("nn.Conv2d", [hole(...), *kwargs(self, ...)])`, whose
literals are Holes: where a block is used several times and a literal differs between its uses, export
makes it an argument of the block's class. An operation kind answers the expression forward computes,
from its arguments' variable names. Every value written is a validated field value through q() (repr),
so no text from a spec reaches the code unquoted.
"""

from __future__ import annotations

import math
from typing import Any

from . import base  # (base imports this module: its names are read when a binding is made)

# torch dtype for each `dtype` field value (its synonyms included)
TORCH_DTYPES = {
    "float64": "float64",
    "double": "float64",
    "float32": "float32",
    "float": "float32",
    "float16": "float16",
    "half": "float16",
    "bfloat16": "bfloat16",
    "int8": "int8",
    "uint8": "uint8",
    "float8_e4m3fn": "float8_e4m3fn",
    "float8_e5m2": "float8_e5m2",
}

# fields never passed as keywords: inferred sizes (passed positionally from the input), and ignored ones
SKIPPED = {
    "in_channels",
    "in_features",
    "num_features",
    "embed_dim",
    "d_model",
    "input_size",
    "num_channels",
    "device",
    "batch_first",
    "rotary",  # paramcalc's own (RoPE has no parameters): nn.MultiheadAttention takes no such argument
    "upcast",  # paramcalc's own (what a norm keeps in 16-bit training): PyTorch's norms take no such argument
}


class Unexportable(Exception):
    """A kind (or this use of it) that has no PyTorch equivalent here; export refuses it (exit 2)."""


class Hole:
    """A literal in a constructor call (source text, from repr()). Where a block is used several times
    and the literal differs between uses, it becomes an argument of the block's class."""

    __slots__ = ("value", "label", "default", "where")

    def __init__(self, value: str, label: str, default: bool = False, where: str = ""):
        self.value = value
        self.label = label  # the argument's name if it becomes one (torch's name for the field)
        self.default = default  # a keyword argument at its default: left out where every use has it
        self.where = where  # the attribute it builds, for the argument's name (set by export)


class Kw:
    """`key=value` in a call."""

    __slots__ = ("key", "value")

    def __init__(self, key: str, value: Expr):
        self.key = key  # an identifier written by paramcalc
        self.value = value


class Pair:
    """`key: value` in a dict literal."""

    __slots__ = ("key", "value")

    def __init__(self, key: str, value: Expr):
        self.key = key  # a repr()'d string
        self.value = value


class Call:
    """`func(items)`; with brackets "[]" or "{}" and no func, a list or dict literal. `runs`: runs of
    equal items are written `*[item for _ in range(n)]` (the children of a repeat)."""

    __slots__ = ("func", "items", "brackets", "runs")

    def __init__(self, func: Any, items: list, brackets: str = "()", runs: bool = False):
        self.func = func  # its text: a str, or an object whose str() is the name (a class named later)
        self.items = items
        self.brackets = brackets
        self.runs = runs


class Star:
    """`*[item for _ in range(count)]`: a run of equal items."""

    __slots__ = ("item", "count")

    def __init__(self, item: Expr, count: int):
        self.item = item
        self.count = count


class Verbatim:
    """Text that q() writes as it is: a placeholder that export fills in later (never spec text)."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


Expr = str | Hole | Kw | Pair | Call | Star


def q(value) -> str:
    """Python source for a literal: repr(), with strings in double quotes where that needs no escape (as
    ruff format writes them), and non-finite floats as float("inf")."""
    if isinstance(value, str):
        text = str.__repr__(value)
        return f'"{text[1:-1]}"' if text[0] == "'" and '"' not in value else text
    if type(value) in (tuple, list):
        inner = ", ".join(q(v) for v in value)
        return f"[{inner}]" if type(value) is list else f"({inner}{',' if len(value) == 1 else ''})"
    if type(value) is dict:
        return "{" + ", ".join(f"{q(k)}: {q(v)}" for k, v in value.items()) + "}"
    if isinstance(value, float) and not math.isfinite(value):  # repr() gives `inf`, a name in Python
        return f'float("{value!r}")'
    return repr(value)


def r(value) -> str:
    """A validated field value as Python source; tuples of one repeated value collapse to it."""
    if isinstance(value, tuple):
        if value and len(set(value)) == 1 and None not in value:
            return q(value[0])
        return q(value)
    return q(value)


def hole(value, label: str) -> Hole:
    """A literal that may become the argument `label` of a block's class."""
    return Hole(q(value), label)


def dtype(value: str | None) -> str:
    """A `dtype` field as source: torch.float16, or None (the default dtype)."""
    return f"torch.{TORCH_DTYPES[value]}" if value else "None"


def kwargs(layer, first: tuple[str, ...] = ()) -> list[Kw]:
    """`key=value` for every field (positional `first` fields excluded); one at its default is marked so,
    and left out unless another use of the same block sets it."""
    required = base.REQUIRED
    out = []
    defaults = layer.defaults()
    for name in layer.fields():
        if name in SKIPPED or name in first:
            continue
        value = getattr(layer, name)
        default = defaults[name]
        at_default = default is not required and value == _normal(default, value)
        aka = layer.fields()[name].aka  # a field's first synonym is PyTorch's name for it
        key = aka[0] if aka else name
        if name == "dtype":
            text = dtype(value)
        elif isinstance(value, tuple) and name in ("shape", "sizes", "scale", "size", "out") and None not in value:
            text = q(value)
        else:
            text = r(value)
        out.append(Kw(key, Hole(text, key, at_default)))
    return out


def _normal(default, value):
    """A default as the coerced field would hold it (an int default of a per-dimension field is a tuple)."""
    if isinstance(value, tuple) and not isinstance(default, tuple) and default is not None:
        return (default,) * len(value)
    return default


def call(cls: str, positional: list, keywords: list) -> Call:
    """`nn.cls(*positional, *keywords)`."""
    return Call(f"nn.{cls}", [*positional, *keywords])


BATCH_FIRST = Kw("batch_first", "True")  # the generated code is batch-first throughout


def first_output(module: str, args: list[str]) -> str:
    """The call of a module that returns a tuple whose first item is the layer's output (an RNN's output
    and state, a pooling's values and indices)."""
    return f"{module}({', '.join(args)})[0]"


def dims(values) -> str:
    """One dim, or a tuple of them."""
    return q(tuple(values)) if len(values) != 1 else q(values[0])
