"""Output of `paramcalc diff`: a rich table, a Markdown table for pull requests, JSON."""

from __future__ import annotations

from . import human, shape_text
from .json import to_json
from ..escape import markdown, markdown_code, rich_text

SYMBOL = {"added": "+", "removed": "−", "changed": "~", "same": " "}
TOTAL_KEYS = ("params", "trainable", "macs", "buffers", "param_bytes")


def signed(n: int) -> str:
    return f"{n:+,}" if n else "0"


def percent(rel) -> str:
    return "new" if rel is None else f"{rel:+.1%}"


def _shape_change(c) -> str:
    a, b = c.value("old", "output_shape"), c.value("new", "output_shape")
    if a is None or b is None or a == b:
        return shape_text(b if b is not None else a)
    return f"{shape_text(a)} → {shape_text(b)}"


def _rows(d, include_same):
    return [c for c in d.changes if include_same or c.status != "same"]


def render_diff_markdown(d, include_same: bool = False) -> str:
    old, new = d.old, d.new
    lines = [f"### paramcalc diff: {markdown_code(old.name)} → {markdown_code(new.name)}", "",
             "| | old | new | change | % |", "|:--|--:|--:|--:|--:|"]
    for key, (a, b, delta, rel) in d.totals_delta().items():
        if key in TOTAL_KEYS:
            lines.append(f"| {key} | {a:,} | {b:,} | {signed(delta)} | {percent(rel) if delta else '0'} |")
    lines.append(f"| output | {shape_text(old.output_shape)} | {shape_text(new.output_shape)} | | |")
    rows = _rows(d, include_same)
    counts = {s: sum(c.status == s for c in d.changes) for s in ("added", "removed", "changed")}
    lines += ["", f"{counts['added']} added, {counts['removed']} removed, {counts['changed']} changed layers "
                  f"({human(d.totals_delta()['params'][2])} params)."]
    if rows:
        lines += ["", "| | layer | kind | params | Δ params | Δ MACs | output |",
                  "|:-:|:--|:--|--:|--:|--:|:--|"]
        for c in rows:
            kind = c.value("new", "kind") or c.value("old", "kind")
            params = c.value("new", "params") if c.new else c.value("old", "params")
            lines.append(f"| {SYMBOL[c.status]} | {markdown_code(c.name)} | {markdown(kind)} | {params:,} | {signed(c.delta('params'))} | "
                         f"{signed(c.delta('macs'))} | {_shape_change(c)} |")
    return "\n".join(lines) + "\n"


def render_diff_json(d, include_same: bool = False) -> str:
    return to_json(d.to_dict(include_same))


def build_diff_table(d, include_same, plain):
    from rich import box
    from rich.table import Table
    table = Table(box=box.SIMPLE_HEAD if plain else box.ROUNDED, pad_edge=False,
                  title=None if plain else rich_text(f"{d.old.name} → {d.new.name}"))
    for name, justify in (("", "center"), ("layer", "left"), ("kind", "left"), ("params", "right"),
                          ("Δ params", "right"), ("Δ MACs", "right"), ("output", "left")):
        table.add_column(name, justify=justify)
    style = {"added": "green", "removed": "red", "changed": "yellow", "same": ""}
    for c in _rows(d, include_same):
        params = c.value("new", "params") if c.new else c.value("old", "params")
        table.add_row(SYMBOL[c.status], rich_text(c.name), rich_text(c.value("new", "kind") or c.value("old", "kind")),
                      f"{params:,}",
                      signed(c.delta("params")), signed(c.delta("macs")), _shape_change(c),
                      style=None if plain else style[c.status])
    return table


def diff_summary(d) -> str:
    lines = []
    for key, (a, b, delta, rel) in d.totals_delta().items():
        if key in TOTAL_KEYS:
            lines.append(f"{key:>12}: {a:>16,} → {b:>16,}  {signed(delta):>16} ({percent(rel) if delta else '0'})")
    return "\n".join(lines)


def render_diff_table(d, include_same: bool = False) -> str:
    from .table import make_console, tidy
    console, plain = make_console()
    with console.capture() as capture:
        print_diff(console, d, include_same, plain)
    return tidy(capture.get(), plain)


def print_diff(console, d, include_same, plain):
    if _rows(d, include_same):
        console.print(build_diff_table(d, include_same, plain))
    else:
        console.print("no layer changed")
    console.print(diff_summary(d))
