"""Errors a user can cause, each pointing at the place in their spec that caused it."""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class Loc:
    """Where something was written: a file (or `<stdin>`, or an `-l` argument) and a 1-based line/column."""

    source: str
    line: int
    col: int

    def __str__(self) -> str:
        if self.line == 0:  # a command-line option as a whole
            return self.source
        if self.source.startswith("-l "):
            return f"{self.source}, column {self.col}"
        return f"{self.source}:{self.line}:{self.col}"


class SpecError(Exception):
    """An invalid spec or usage: one message, one location, exit code 2."""

    exit_code = 2

    def __init__(self, message: str, loc: Loc | None = None, *, layer: str | None = None,
                 context: tuple[str, ...] = (), hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.loc = loc
        self.layer = layer
        self.context = context
        self.hint = hint

    def __str__(self) -> str:
        head = f"{self.loc}: " if self.loc else ""
        where = f"{self.layer}: " if self.layer else ""
        lines = [f"{head}{where}{self.message}"]
        lines += [f"  {c}" for c in self.context]
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)


@dataclass(frozen=True)
class SpecWarning:
    """Something legal but probably unintended (an output nobody reads); the CLI shows it on stderr."""

    message: str
    loc: Loc | None = None
    layer: str | None = None

    def __str__(self) -> str:
        head = f"{self.loc}: " if self.loc else ""
        where = f"{self.layer}: " if self.layer else ""
        return f"{head}{where}{self.message}"

    def to_dict(self) -> dict:
        return {"message": self.message, "line": self.loc.line if self.loc else None,
                "col": self.loc.col if self.loc else None, "layer": self.layer}


class FieldError(Exception):
    """Raised by a layer while validating its fields; the caller adds where the field was written."""

    def __init__(self, field: str | None, message: str, hint: str | None = None):
        super().__init__(message)
        self.field = field
        self.message = message
        self.hint = hint


class ShapeError(Exception):
    """Raised by a layer whose input shapes it cannot accept."""


def did_you_mean(word: str, choices) -> str | None:
    close = difflib.get_close_matches(word.lower(), [c.lower() for c in choices], n=1, cutoff=0.6)
    if not close:
        return None
    original = {c.lower(): c for c in choices}[close[0]]
    return f"did you mean '{original}'?"


def describe(value) -> str:
    """How a found value is shown in a message: the value and what YAML made of it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, str):
        return f"{value!r} (a string)"
    if isinstance(value, int):
        return f"{value} (an integer)"
    if isinstance(value, float):
        return f"{value} (a number)"
    if isinstance(value, (list, tuple)):
        return f"{list(value)} (a list)"
    if isinstance(value, dict):
        return "a mapping"
    return repr(value)
