"""Presentation only: a Report in, text out. Nothing here computes a count."""

from __future__ import annotations

from ..units import human, human_bytes, human_params  # noqa: F401  (the renderers' units)


def shape_text(shape, sep="×") -> str:
    return sep.join(str(s) for s in shape) if shape else "scalar"


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
