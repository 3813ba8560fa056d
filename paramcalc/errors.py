"""Errors a user can cause, each pointing at the place in their spec that caused it."""

from __future__ import annotations

from typing import NamedTuple

from .escape import cut, quote


class Loc(NamedTuple):
    """Where something was written: a file (or `<stdin>`, or an `-l` argument) and a 1-based line/column.
    A tuple: a spec's every value has one, and a tuple is the cheapest value to make and keep."""

    source: str
    line: int
    col: int

    def __str__(self) -> str:
        if self.line == 0:  # a command-line option as a whole
            return self.source
        if self.source.startswith("-l "):
            return f"{self.source}, column {self.col}"
        return f"{self.source}:{self.line}:{self.col}"


MAX_PART = 1000  # characters of one part of a message (a location, the message, a context line)
MAX_CONTEXT = 40  # context lines ("in block ... used as ...") shown


class SpecError(Exception):
    """An invalid spec or usage: one message, one location, exit code 2."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        loc: Loc | None = None,
        *,
        layer: str | None = None,
        context: tuple[str, ...] = (),
        hint: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.loc = loc
        self.layer = layer
        self.context = context
        self.hint = hint

    def __str__(self) -> str:
        # Every part may quote the spec (names, keys, values, a path): each is escaped, so the
        # message is always these lines and nothing a spec says can add one or reach a terminal raw.
        def safe(text):  # and no part longer than a message can usefully be
            return cut(text, MAX_PART)

        head = f"{safe(self.loc)}: " if self.loc else ""
        where = f"{safe(self.layer)}: " if self.layer else ""
        lines = [f"{head}{where}{safe(self.message)}"]
        lines += [f"  {safe(c)}" for c in self.context[:MAX_CONTEXT]]
        if self.hint:
            lines.append(f"  hint: {safe(self.hint)}")
        return "\n".join(lines)


class SpecWarning(NamedTuple):
    """Something legal but probably unintended (an output nobody reads); the CLI shows it on stderr."""

    message: str
    loc: Loc | None = None
    layer: str | None = None

    def __str__(self) -> str:
        head = f"{self.loc}: " if self.loc else ""
        where = f"{self.layer}: " if self.layer else ""
        return f"{head}{where}{self.message}"

    def to_dict(self) -> dict:
        return {
            "message": self.message,
            "line": self.loc.line if self.loc else None,
            "col": self.loc.col if self.loc else None,
            "layer": self.layer,
        }


class FieldError(Exception):
    """Raised by a layer while validating its fields; the caller adds where the field was written."""

    def __init__(self, field: str | None, message: str, hint: str | None = None):
        super().__init__(message)
        self.field = field
        self.message = message
        self.hint = hint
        self.about_value = False

    @classmethod
    def of_value(cls, field: str, message: str, hint: str | None = None) -> FieldError:
        """'expects ..., found ...': about the field's value, so the caller names the field first."""
        error = cls(field, message, hint)
        error.about_value = True
        return error


class ShapeError(Exception):
    """Raised by a layer whose input shapes it cannot accept."""


def did_you_mean(word: str, choices) -> str | None:
    import difflib  # only when a name is wrong

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
        return f"{quote(value)} (a string)"
    if isinstance(value, int):
        digits = len(str(value)) if value.bit_length() < 10_000 else None
        return f"{cut(value)} (an integer)" if digits else "a huge integer"
    if isinstance(value, float):
        return f"{value} (a number)"
    if isinstance(value, (list, tuple)):
        return f"{cut(_short_list(value))} (a list)"
    if isinstance(value, dict):
        return "a mapping"
    return cut(repr(value))


def _short_list(value) -> str:
    """A list as written, without building the text of a huge one."""
    shown = [
        v
        if isinstance(v, (int, float, bool)) and not (isinstance(v, int) and v.bit_length() > 64)
        else "..."
        if isinstance(v, (list, tuple, dict))
        else cut(v, 20)
        for v in value[:12]
    ]
    return str(shown)[:-1] + (", ...]" if len(value) > 12 else "]")
