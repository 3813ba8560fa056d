"""Presentation only: a Report in, text out. Nothing here computes a count."""

from __future__ import annotations


def shape_text(shape, sep="×") -> str:
    return sep.join(str(s) for s in shape) if shape else "scalar"


def human(n: int, unit: str = "", binary: bool = False) -> str:
    """138357544 -> '138.36 M'; bytes use binary units (527.8 MiB). Exact (Decimal), so no count
    is too large to show."""
    from decimal import ROUND_HALF_EVEN, Decimal, localcontext

    base, prefixes = (1024, ["", "Ki", "Mi", "Gi", "Ti"]) if binary else (1000, ["", "K", "M", "G", "T"])
    n, i = int(n), 0
    while abs(n) >= base ** (i + 1) and i < len(prefixes) - 1:
        i += 1
    if i == 0:
        return f"{n} {unit}".rstrip()
    digits = 1 if binary else 2
    with localcontext() as context:
        context.prec = len(str(abs(n))) + digits + 2
        value = (Decimal(n) / Decimal(base) ** i).quantize(Decimal(1).scaleb(-digits), ROUND_HALF_EVEN)
    return f"{value:f} {prefixes[i]}{unit}".rstrip()


def params_note(row) -> str:
    """What a params cell adds: a tie, or a freeze."""
    if getattr(row, "tied_to", None):
        return f" (tied to {row.tied_to})"
    if row.trainable < row.params - row.shared:
        return " (frozen)"
    return ""


def visible_rows(report, depth: int | None):
    """The rows a table shows at `depth` (see Report.rows_to_depth)."""
    return report.rows_to_depth(depth)


def is_collapsed(row, depth: int | None) -> bool:
    return hasattr(row, "first") and row.depth == depth


def row_label(row, depth: int | None) -> str:
    """The name, indented by nesting when a tree is shown; a collapsed block ends in …."""
    indent = "  " * len(row.path) if depth else ""
    return indent + row.name + (" …" if is_collapsed(row, depth) else "")


def render(
    report,
    fmt: str,
    depth: int | None = None,
    *,
    columns=None,
    wide: bool = False,
    memory: bool = False,
    rf: bool = False,
    share: bool = False,
) -> str:
    """`analyze`'s output in a format: table (with the column sets the options add), json, csv,
    markdown, mermaid or dot. Each command's renderer module has the same entry: render(data, fmt)."""
    if fmt == "json":
        from .json import render_json

        return render_json(report)
    if fmt == "csv":
        from .csv import render_csv

        return render_csv(report)
    if fmt == "markdown":
        from .markdown import render_markdown

        return render_markdown(report, depth)
    if fmt == "mermaid":
        from .mermaid import render_mermaid

        return render_mermaid(report, depth)
    if fmt == "dot":
        from .dot import render_dot

        return render_dot(report, depth)
    from .table import render_table

    return render_table(report, depth, columns=columns, wide=wide, memory=memory, rf=rf, share=share)
