"""Output of `paramcalc diff`: a rich table, a Markdown table for pull requests, JSON."""

from __future__ import annotations

from ..escape import markdown, markdown_code, terminal
from . import shape_text
from .json import to_json

SYMBOL = {"added": "+", "removed": "−", "changed": "~", "renamed": "→", "same": " "}
STYLE = {"added": "green", "removed": "red", "changed": "yellow", "renamed": "blue", "same": ""}
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


def _label(c) -> str:
    return f"{c.old.name} → {c.name}" if c.status == "renamed" else c.name


def _rows(d, include_same):
    return [c for c in d.changes if include_same or c.status != "same"]


def _side(report) -> str:
    return terminal(f"{report.name} ({report.source})" if report.source else report.name)


def title(d) -> str:
    """Both names and where they came from: 'resnet18 (specs/resnet18.yaml) → resnet50 (...)'."""
    return f"{_side(d.old)} → {_side(d.new)}"


def summary_line(d) -> str:
    """'8 added, 0 removed, 19 changed layers; params +13,867,520 (+118.6%)'."""
    counts = d.counts()
    parts = [f"{counts[s]} {s}" for s in ("added", "removed", "changed")]
    if counts["renamed"]:
        parts.append(f"{counts['renamed']} renamed")
    noun = "layers" if not d.depth else f"rows (blocks to depth {d.depth})"
    only = [c for c in d.changes if c.settings_only]  # a change no count shows: say what it was
    if only:
        noun += f" ({len(only)} in settings only: {', '.join(sorted({n for c in only for n in c.settings}))})"
    a, b, delta, rel = d.totals_delta()["params"]
    params = f"params {signed(delta)} ({percent(rel)})" if delta else "params unchanged"
    return ", ".join(parts) + f" {noun}; {params}"


def render_diff_markdown(d, include_same: bool = False) -> str:
    old, new = d.old, d.new
    lines = [
        f"### paramcalc diff: {markdown_code(_side(old))} → {markdown_code(_side(new))}",
        "",
        "| | old | new | change | % |",
        "|:--|--:|--:|--:|--:|",
    ]
    for key, (a, b, delta, rel) in d.totals_delta().items():
        if key in TOTAL_KEYS:
            change = f"| {signed(delta)} | {percent(rel)} |" if delta else "| unchanged | |"
            lines.append(f"| {key} | {a:,} | {b:,} {change}")
    same_output = old.output_shape == new.output_shape
    lines.append(
        f"| output | {shape_text(old.output_shape)} | {shape_text(new.output_shape)} | "
        f"{'unchanged' if same_output else 'changed'} | |"
    )
    rows = _rows(d, include_same)
    lines += ["", summary_line(d) + "."]
    if rows:
        lines += ["", "| | layer | kind | params | Δ params | Δ MACs | output |", "|:-:|:--|:--|--:|--:|--:|:--|"]
        for c in rows:
            kind = c.value("new", "kind") or c.value("old", "kind")
            params = c.value("new", "params") if c.new else c.value("old", "params")
            name = (
                f"{markdown_code(c.old.name)} → {markdown_code(c.name)}"
                if c.status == "renamed"
                else markdown_code(c.name)
            )
            lines.append(
                f"| {SYMBOL[c.status]} | {name} | {markdown(kind)} | {params:,} | {signed(c.delta('params'))} | "
                f"{signed(c.delta('macs'))} | {_shape_change(c)} |"
            )
    return "\n".join(lines) + "\n"


def render_diff_json(d, include_same: bool = False) -> str:
    return to_json(d.to_dict(include_same))


def diff_columns():
    from .table import Column

    return [
        Column("status", "", lambda c: SYMBOL[c.status]),
        Column("layer", "layer", _label, shrink_at=2, min_width=16),
        Column("kind", "kind", lambda c: c.value("new", "kind") or c.value("old", "kind"), drop=3),
        Column(
            "params",
            "params",
            lambda c: f"{c.value('new', 'params') if c.new else c.value('old', 'params'):,}",
            align="right",
            drop=1,
        ),
        Column("params_change", "Δ params", lambda c: signed(c.delta("params")), align="right"),
        Column("macs_change", "Δ MACs", lambda c: signed(c.delta("macs")), align="right"),
        Column("output", "output", _shape_change, drop=4),
    ]


def totals_lines(d) -> list[str]:
    lines = []
    for key, (a, b, delta, rel) in d.totals_delta().items():
        if key in TOTAL_KEYS:
            lines.append(
                f"{key:>12}: {a:>16,} → {b:>16,}  {signed(delta):>16} ({percent(rel)})"
                if delta
                else f"{key:>12}: {a:>16,}    unchanged"
            )
    a, b = d.old.output_shape, d.new.output_shape
    lines.append(
        f"{'output':>12}: {shape_text(a)} → {shape_text(b)}"
        if a != b
        else f"{'output':>12}: {shape_text(a)}    unchanged"
    )
    return lines


def diff_lines(d, include_same: bool, screen, wide: bool = False) -> list:
    """The title, the changed rows as a table (or 'no layer changed'), the totals, the summary line."""
    from .table import hidden_note, lay_out, plain_lines, styled_lines

    rows = _rows(d, include_same)
    lines: list = []
    if rows:
        grid = lay_out(diff_columns(), rows, None, screen, wide)
        if screen.boxed:
            lines += styled_lines(grid, title(d), [STYLE[c.status] for c in rows])
        else:
            lines += [title(d)] + plain_lines(grid)
        note = hidden_note(grid)
        lines += [note] if note else []
    else:
        lines += [title(d), "no layer changed"]
    return lines + totals_lines(d) + [summary_line(d)]


def render_diff_table(d, include_same: bool = False, screen=None, wide: bool = False) -> str:
    from .table import detect_screen, styled_text

    screen = screen or detect_screen()
    lines = diff_lines(d, include_same, screen, wide)
    if not screen.color and not screen.boxed:
        return "\n".join(lines) + "\n"
    return styled_text(lines, screen)


def render(d, fmt: str, include_same: bool = False, wide: bool = False) -> str:
    """`diff`'s output: table, json or markdown."""
    if fmt == "json":
        return render_diff_json(d, include_same)
    if fmt == "markdown":
        return render_diff_markdown(d, include_same)
    return render_diff_table(d, include_same, wide=wide)
