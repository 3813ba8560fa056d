"""The rich table. rich is imported here only, so JSON/CSV runs never load it."""

from __future__ import annotations

import io
import os
import sys

from . import human, is_collapsed, params_note, row_label, shape_text, visible_rows
from ..escape import rich_text, terminal


def make_console():
    from rich.console import Console
    plain = not sys.stdout.isatty() or "NO_COLOR" in os.environ
    # A pipe gets no colour and a width that never wraps a row. The console writes to a string
    # (rich would flush the real stdout when a capture ends): cli.emit writes, and reports failures.
    # The string keeps stdout's encoding, so a terminal that is not UTF-8 gets an ASCII table.
    sink = io.TextIOWrapper(io.BytesIO(), encoding=getattr(sys.stdout, "encoding", None) or "utf-8")
    return Console(file=sink if plain else None, no_color=plain, highlight=False,
                   width=250 if plain else None, color_system=None if plain else "auto"), plain


def build_table(report, depth, plain):
    from rich import box
    from rich.table import Table
    t = report.totals
    table = Table(box=box.SIMPLE_HEAD if plain else box.ROUNDED, show_footer=True, pad_edge=not plain,
                  title=None if plain else rich_text(report.name, "bold"), header_style="" if plain else "bold",
                  footer_style="" if plain else "bold")
    show_buffers = t.buffers > 0
    table.add_column("#", justify="right", style="" if plain else "dim")
    table.add_column("name", footer="total")
    table.add_column("kind", style="" if plain else "cyan")
    table.add_column("input", footer=shape_text(report.input_shape))
    table.add_column("output", footer=shape_text(report.output_shape))
    table.add_column("weights", justify="right", footer=f"{t.weights:,}")
    table.add_column("bias", justify="right", footer=f"{t.bias:,}")
    table.add_column("params", justify="right", footer=f"{t.params:,}")
    if show_buffers:
        table.add_column("buffers", justify="right", footer=f"{t.buffers:,}")
    table.add_column("MACs", justify="right", footer=f"{t.macs:,}")
    for row in visible_rows(report, depth):
        is_block = hasattr(row, "first")
        cells = [f"{row.first}–{row.last}" if is_block else str(row.index), rich_text(row_label(row, depth)),
                 rich_text(row.kind), ", ".join(shape_text(s) for s in row.input_shapes), shape_text(row.output_shape),
                 f"{row.weights:,}", f"{row.bias:,}", rich_text(f"{row.params:,}" + params_note(row))]
        if show_buffers:
            cells.append(f"{row.buffers:,}")
        cells.append(f"{row.macs:,}")
        table.add_row(*cells, style="bold" if is_block and not plain and not is_collapsed(row, depth) else None)
    return table


def summary(report) -> str:
    t = report.totals
    shared = sum(r.shared for r in report.layers)
    lines = [f"{terminal(report.name)}: {human(t.params)} params ({t.params:,})"
             + (f", {t.non_trainable:,} frozen" if t.non_trainable else "")
             + (f"; {shared:,} tied weights counted once" if shared else ""),
             f"{human(t.macs, 'MACs')} ({t.macs:,}) at batch {report.batch}",
             f"{human(t.param_bytes, 'B', binary=True)} of {report.dtype} parameters"]
    if t.buffers:
        lines.append(f"{t.buffers:,} buffer elements")
    return "\n".join(lines)


def print_report(console, report, depth, plain):
    console.print(build_table(report, depth, plain))
    console.print(summary(report), markup=False, emoji=False)


def render_table(report, depth=None) -> str:
    console, plain = make_console()
    with console.capture() as capture:
        print_report(console, report, depth, plain)
    return tidy(capture.get(), plain)


def tidy(text: str, plain: bool) -> str:
    """Plain output loses rich's padding: no trailing blanks, no blank first line."""
    if not plain:
        return text
    return "\n".join(line.rstrip() for line in text.splitlines()).strip("\n") + "\n"


def export(print_fn, fmt: str, title: str) -> str:
    """The same output, recorded in colour and exported as an SVG or HTML document."""
    import io

    from rich.console import Console
    console = Console(file=io.StringIO(), record=True, width=160, force_terminal=True, color_system="truecolor",
                      highlight=False)
    print_fn(console, False)
    return console.export_svg(title=terminal(title)) if fmt == "svg" else console.export_html()
