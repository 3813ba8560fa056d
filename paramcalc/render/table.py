"""The rich table. rich is imported here only, so JSON/CSV runs never load it."""

from __future__ import annotations

import os
import sys

from . import human, is_collapsed, params_note, row_label, shape_text, visible_rows


def make_console():
    from rich.console import Console
    plain = not sys.stdout.isatty() or "NO_COLOR" in os.environ
    # A pipe gets no colour and a width that never wraps a row.
    return Console(no_color=plain, highlight=False, width=250 if plain else None,
                   color_system=None if plain else "auto"), plain


def build_table(report, depth, plain, rf=False, share=False):
    from rich import box
    from rich.table import Table
    t = report.totals
    table = Table(box=box.SIMPLE_HEAD if plain else box.ROUNDED, show_footer=True, pad_edge=not plain,
                  title=None if plain else f"[bold]{report.name}[/]", header_style="" if plain else "bold",
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
    if rf:
        for title in ("RF", "stride", "start"):
            table.add_column(title, justify="right")
    if share:
        table.add_column("params share", footer="100%")
        table.add_column("MACs share", footer="100%")
    for row in visible_rows(report, depth):
        is_block = hasattr(row, "first")
        cells = [f"{row.first}–{row.last}" if is_block else str(row.index), row_label(row, depth), row.kind,
                 ", ".join(shape_text(s) for s in row.input_shapes), shape_text(row.output_shape),
                 f"{row.weights:,}", f"{row.bias:,}", f"{row.params:,}" + params_note(row)]
        if show_buffers:
            cells.append(f"{row.buffers:,}")
        cells.append(f"{row.macs:,}")
        if rf:
            cells += rf_cells(report.layers[row.last] if is_block else row)
        if share:
            from ..share import shares
            cells += [bar(fraction, plain) for fraction in shares(row, t)]
        table.add_row(*cells, style="bold" if is_block and not plain and not is_collapsed(row, depth) else None)
    return table


def rf_cells(row) -> list[str]:
    """Receptive field size, stride and start per spatial dim; a global field says so."""
    field = row.receptive_field
    if field is None:
        return ["–"] * 3
    if field["global"]:
        return ["global", "–", "–"]
    from fractions import Fraction

    def dims(values):
        return "×".join(str(Fraction(v).limit_denominator(4096)) for v in values)
    return [dims(field["size"]), dims(field["stride"]), dims(field["start"])]


BAR_WIDTH = 10


def bar(fraction: float, plain: bool) -> str:
    """A bar of eighth blocks and the percentage: '████▌      45.3%'."""
    eighths = round(fraction * BAR_WIDTH * 8)
    blocks = "█" * (eighths // 8) + ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")[eighths % 8]
    return f"{blocks:<{BAR_WIDTH}} {100 * fraction:5.1f}%"


def costliest_lines(report, depth) -> list[str]:
    from ..share import costliest
    what = "blocks and layers" if depth else "layers"
    return [f"costliest {what} by {title}: " + ", ".join(f"{name} {100 * share:.1f}%" for name, share in top)
            for title, top in zip(("params", "MACs"), costliest(report, depth).values()) if top]


def summary(report) -> str:
    t = report.totals
    shared = sum(r.shared for r in report.layers)
    lines = [f"{report.name}: {human(t.params)} params ({t.params:,})"
             + (f", {t.non_trainable:,} frozen" if t.non_trainable else "")
             + (f"; {shared:,} tied weights counted once" if shared else ""),
             f"{human(t.macs, 'MACs')} ({t.macs:,}) at batch {report.batch}",
             f"{human(t.param_bytes, 'B', binary=True)} of {report.dtype} parameters"]
    if t.buffers:
        lines.append(f"{t.buffers:,} buffer elements")
    return "\n".join(lines)


def print_report(console, report, depth, plain, rf=False, share=False):
    console.print(build_table(report, depth, plain, rf, share))
    console.print(summary(report))
    if share:
        console.print("\n".join(costliest_lines(report, depth)))


def render_table(report, depth=None, rf=False, share=False) -> str:
    console, plain = make_console()
    with console.capture() as capture:
        print_report(console, report, depth, plain, rf, share)
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
    return console.export_svg(title=title) if fmt == "svg" else console.export_html()
