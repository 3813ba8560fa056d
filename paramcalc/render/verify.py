"""`verify`'s output: agreement in one line, or every difference in a table."""

from __future__ import annotations

from ..escape import terminal
from .json import to_json


def render(result, fmt: str) -> str:
    """table or json."""
    return to_json(result.as_dict()) if fmt == "json" else render_verify(result)


def render_verify(result) -> str:
    if result.ok:
        return (
            f"ok: {_show(result.spec)} agrees with {_show(result.target)} ({result.compared} named modules compared, "
            f"totals and output shape{_values(result)})\n"
        )
    rows = [("name", "what", "spec", "model")] + [
        (_show(d.name), d.what, _show(d.spec), _show(d.model)) for d in result.differences
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    head = (
        f"{_show(result.spec)} differs from {_show(result.target)}: {len(result.differences)} difference"
        f"{'s' if len(result.differences) != 1 else ''} ({result.compared} named modules compared)"
    )
    return head + "\n" + "\n".join(lines) + "\n"


def _values(result) -> str:
    if result.output_difference is None:
        return ""
    return f"; outputs within {result.output_difference:.3g} of the model's"


def _show(value) -> str:
    """One line of text, printable: values from a spec or a model's names are never raw control text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return terminal(value)
