"""The analysis table, laid out by paramcalc itself.

paramcalc knows every cell, so it computes the column widths and writes the lines: piped output is
plain text built with str methods (rich is not even imported), and in a terminal each line is a
list of (text, style) pieces whose codes rich's Style writes: the same bytes rich's Table wrote
(checked for every zoo spec and depth), without its layout cost (~1 ms a row). A number is never cut: in a
narrow terminal the least useful columns are dropped first, names are shortened from the left
(the leaf stays), and a note under the table says what was hidden.

The columns are data. A column is a `Column`: a key (for `--columns`), a header, a function from a
row (a LayerRow, or a BlockRow when `--depth` shows blocks) to its cell text, a function from the
report to its footer, an alignment, a terminal style, and when it goes in a narrow terminal:

    drop=N       dropped at stage N (input 1, weights/bias 2, buffers 3, # 5, kind 6; 0 = never)
    shrink_at=N  cut from the left at stage N, down to min_width (the name: stage 4, 16 cells)

Adding a column set is a few lines and touches no layout code: `memory_columns()`, `rf_columns()`
and `share_columns()` below are the sets of `analyze --memory`, `--rf` and `--share`, appended to
`default_columns(report, depth)`. `--columns` picks columns by key from the same list.
"""

from __future__ import annotations

import os
import sys
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from ..escape import terminal
from . import human, human_bytes, human_params, is_collapsed, params_note, row_label, shape_text, visible_rows


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    cell: Callable[[Any], str]
    footer: Callable[[Any], str] | None = None
    align: str = "left"  # or "right"
    style: str = ""  # terminal style of its cells
    drop: int = 0  # stage at which a narrow terminal drops it; 0 = never
    shrink_at: int = 0  # stage at which it is cut from the left, down to min_width
    min_width: int = 0


@dataclass(frozen=True)
class Screen:
    """Where the table goes: a width to fit (None: its natural width), colour, borders and title."""

    width: int | None = None
    color: bool = False
    boxed: bool = False


PIPE = Screen()
EXPORT = Screen(color=True, boxed=True)  # an SVG/HTML image: the terminal look, at natural width


def detect_screen() -> Screen:
    """A pipe gets the full plain table; a terminal its width, with colour unless NO_COLOR is set."""
    if not sys.stdout.isatty():
        return PIPE
    import shutil

    color = "NO_COLOR" not in os.environ
    return Screen(width=shutil.get_terminal_size().columns, color=color, boxed=color)


def cell_len(text: str) -> int:
    """Terminal cells a text takes: wide East Asian characters take two, combining marks none."""
    return len(text) if text.isascii() else _unicode_len(text)


@lru_cache(maxsize=4096)  # shapes like 64×56×56 repeat on many rows
def _unicode_len(text: str) -> int:
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def cut_left(text: str, width: int) -> str:
    """'layer1.0.conv1' -> '…1.0.conv1': the leaf stays. Leading indentation and a trailing collapse
    marker (' …') are kept."""
    if cell_len(text) <= width:
        return text
    body = text.lstrip(" ")
    indent = text[: len(text) - len(body)]
    marker = " …" if body.endswith(" …") else ""
    body = body[: len(body) - len(marker)]
    room = max(width - len(indent) - len(marker) - 1, 1)
    tail = ""
    for ch in reversed(body):
        if cell_len(ch + tail) > room:
            break
        tail = ch + tail
    return indent + "…" + tail + marker


def _count(key):
    return lambda row: f"{getattr(row, key):,}"


def _total(key):
    return lambda report: f"{getattr(report.totals, key):,}"


def _index(row) -> str:
    return f"{row.first}–{row.last}" if hasattr(row, "first") else str(row.index)


def default_columns(report, depth: int | None = None) -> list[Column]:
    """The standard table: buffers only when the network has any."""
    columns = [
        Column("index", "#", _index, align="right", style="dim", drop=5),
        Column(
            "name",
            "name",
            lambda row: terminal(row_label(row, depth)),
            lambda report: "total",
            shrink_at=4,
            min_width=16,
        ),
        Column("kind", "kind", lambda row: row.kind, style="cyan", drop=6),
        Column(
            "input",
            "input",
            lambda row: ", ".join(shape_text(s) for s in row.input_shapes),
            lambda report: shape_text(report.input_shape),
            drop=1,
        ),
        Column(
            "output", "output", lambda row: shape_text(row.output_shape), lambda report: shape_text(report.output_shape)
        ),
        Column("weights", "weights", _count("weights"), _total("weights"), align="right", drop=2),
        Column("bias", "bias", _count("bias"), _total("bias"), align="right", drop=2),
        Column("params", "params", lambda row: f"{row.params:,}" + params_note(row), _total("params"), align="right"),
        Column("buffers", "buffers", _count("buffers"), _total("buffers"), align="right", drop=3),
        Column("macs", "MACs", _count("macs"), _total("macs"), align="right"),
    ]
    return [c for c in columns if c.key != "buffers" or report.totals.buffers > 0]


def memory_columns() -> list[Column]:
    """--memory: each layer's output bytes, and what it adds to the tensors training keeps for backward;
    their footers are the inference peak and the saved total."""

    def kib(n):
        return human_bytes(n)

    return [
        Column(
            "activation",
            "activation",
            lambda row: "" if hasattr(row, "first") else kib(row.activation_bytes),
            lambda report: kib(report.totals.peak_activation_bytes) + " peak",
            align="right",
        ),
        Column(
            "saved",
            "saved",
            lambda row: kib(row.saved_bytes),
            lambda report: kib(report.totals.saved_bytes),
            align="right",
        ),
    ]


def rf_columns(report) -> list[Column]:
    """--rf: receptive field size, stride and start per spatial dim (a block shows its last layer's)."""

    def cells(row) -> list[str]:
        field = (report.layers[row.last] if hasattr(row, "first") else row).receptive_field
        if field is None:
            return ["–"] * 3
        if field["global"]:
            return ["global", "–", "–"]
        from fractions import Fraction

        def dims(values):
            return "×".join(str(Fraction(v).limit_denominator(4096)) for v in values)

        return [dims(field["size"]), dims(field["stride"]), dims(field["start"])]

    def cell(i: int) -> Callable[[Any], str]:
        return lambda row: cells(row)[i]

    return [
        Column(key, title, cell(i), align="right")
        for i, (key, title) in enumerate((("rf", "RF"), ("rf_stride", "stride"), ("rf_start", "start")))
    ]


BAR_WIDTH = 10


def bar(fraction: float) -> str:
    """A bar of eighth blocks and the percentage: '████▌      45.3%'."""
    eighths = round(fraction * BAR_WIDTH * 8)
    blocks = "█" * (eighths // 8) + ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")[eighths % 8]
    return f"{blocks:<{BAR_WIDTH}} {100 * fraction:5.1f}%"


def share_columns(report) -> list[Column]:
    """--share: each row's share of the params and of the MACs, as bars."""
    from ..share import shares

    def cell(i: int) -> Callable[[Any], str]:
        return lambda row: bar(shares(row, report.totals)[i])

    return [
        Column(key, title, cell(i), lambda r: "100%", style="magenta")
        for i, (key, title) in enumerate((("params_share", "params share"), ("macs_share", "MACs share")))
    ]


def costliest_lines(report, depth) -> list[str]:
    from ..share import costliest

    what = "blocks and layers" if depth else "layers"
    return [
        f"costliest {what} by {title}: " + ", ".join(f"{name} {100 * share:.1f}%" for name, share in top)
        for title, top in zip(("params", "MACs"), costliest(report, depth).values())
        if top
    ]


def extra_columns(report, memory=False, rf=False, share=False) -> list[Column]:
    """The column sets options add after the standard ones. They are what the user asked for: a
    narrow terminal never drops them (see give_way)."""
    return (
        (memory_columns() if memory else [])
        + (rf_columns(report) if rf else [])
        + (share_columns(report) if share else [])
    )


EXTRA_KEYS = ("activation", "saved", "rf", "rf_stride", "rf_start", "params_share", "macs_share")
# When an option adds columns, the standard columns a narrow terminal otherwise keeps give way too, last
GIVE_WAY = {"output": 7, "macs": 8, "params": 9}


def give_way(standard: list[Column], asked: list[Column]) -> list[Column]:
    """The standard columns and those an option added: in a narrow terminal the standard ones go
    (input first, params last) before any column the user asked for."""
    if not asked:
        return standard
    return [c if c.drop or c.shrink_at else replace(c, drop=GIVE_WAY.get(c.key, 0)) for c in standard] + asked


def memory_note(report) -> str:
    t = report.totals
    return (
        f"training keeps {human_bytes(t.saved_bytes)} ({t.saved_bytes:,}) of activations for "
        f"backward; inference peaks at {human_bytes(t.peak_activation_bytes)} "
        f"({t.peak_activation_bytes:,}), at batch {report.batch} in {report.dtype}"
    )


COLUMN_KEYS = ("index", "name", "kind", "input", "output", "weights", "bias", "params", "buffers", "macs")
COLUMN_ALIASES = {
    "#": "index",
    "mac": "macs",
    "shape": "output",
    "outputs": "output",
    "inputs": "input",
    "param": "params",
    "weight": "weights",
    "buffer": "buffers",
}


def pick_columns(columns: list[Column], keys: list[str]) -> list[Column]:
    """`--columns name,output,params,macs`: those columns, in that order (keys any case)."""
    from ..errors import SpecError, did_you_mean

    by_key = {c.key: c for c in columns}
    known = list(dict.fromkeys([*COLUMN_KEYS, *by_key]))
    picked = []
    for key in keys:
        key = key.strip().lower()
        key = COLUMN_ALIASES.get(key, key)
        if key not in known:
            raise SpecError(
                f"--columns: unknown column '{key}'", hint=did_you_mean(key, known) or "columns: " + ", ".join(known)
            )
        if key in by_key and by_key[key] not in picked:  # buffers of a network without any: nothing
            picked.append(by_key[key])
    if not picked:
        raise SpecError("--columns: no column to show", hint="columns: " + ", ".join(known))
    return picked


# ---------------------------------------------------------------- layout


@dataclass
class Grid:
    """A table laid out: the columns kept, their widths, and the text of every cell."""

    columns: list[Column]
    widths: list[int]
    header: list[str]
    rows: list[list[str]]
    footer: list[str] | None
    hidden: list[str]
    shortened: bool = False

    def width(self, boxed: bool) -> int:
        return sum(self.widths) + chrome(len(self.columns), boxed)


def chrome(n: int, boxed: bool) -> int:
    """Cells a line of n columns takes beyond them: borders and padding."""
    return 3 * n + 1 if boxed else 3 * (n - 1) + 2


def lay_out(columns: list[Column], rows, report=None, screen: Screen = PIPE, wide: bool = False) -> Grid:
    """Every cell's text, the natural widths, then, when a terminal is too narrow for them, columns
    dropped and names shortened stage by stage until the table fits."""
    body = [[c.cell(row) for c in columns] for row in rows]
    footer = [c.footer(report) if c.footer else "" for c in columns] if report is not None else None
    header = [c.header for c in columns]
    widths = [
        max([cell_len(header[i])] + [cell_len(r[i]) for r in body] + ([cell_len(footer[i])] if footer else []))
        for i in range(len(columns))
    ]
    grid = Grid(list(columns), widths, header, body, footer, [])
    if screen.width is None or wide:
        return grid
    fitting = _Fitting(list(columns), header, widths, list(widths), list(range(len(columns))), screen)
    fitting.fit()
    return fitting.grid(body, footer)


@dataclass
class _Fitting:
    """A table being fitted to a terminal: which columns it keeps (`keep`, indices) and how wide."""

    columns: list[Column]
    header: list[str]
    natural: list[int]
    widths: list[int]
    keep: list[int]
    screen: Screen

    def excess(self) -> int:
        """Cells over the terminal's width (negative: room to spare)."""
        width = self.screen.width or 0
        return sum(self.widths[i] for i in self.keep) + chrome(len(self.keep), self.screen.boxed) - width

    def fit(self) -> None:
        stages = sorted({c.drop for c in self.columns if c.drop} | {c.shrink_at for c in self.columns if c.shrink_at})
        self.drop_and_shrink(stages)
        self.shrink_to_last_cells()
        self.widen_shortened()
        self.bring_back(stages)

    def shrink(self, i: int, floor: int) -> None:
        self.widths[i] = max(self.widths[i] - self.excess(), floor, cell_len(self.header[i]))

    def drop_and_shrink(self, stages: list[int]) -> None:
        for stage in stages:
            if self.excess() <= 0:
                break
            self.keep = [i for i in self.keep if self.columns[i].drop != stage] or self.keep
            for i in self.keep:
                if self.columns[i].shrink_at == stage and self.excess() > 0:
                    self.shrink(i, min(self.columns[i].min_width, self.widths[i]))

    def shrink_to_last_cells(self) -> None:
        """Still too wide: shrinkable columns give up to their last cells."""
        for i in self.keep:
            if self.columns[i].shrink_at and self.excess() > 0:
                self.shrink(i, min(6, self.widths[i]))

    def widen_shortened(self) -> None:
        """A later drop may have freed room for a shortened column."""
        for i in self.keep:
            if self.excess() < 0:
                self.widths[i] = min(self.natural[i], self.widths[i] - self.excess())

    def bring_back(self, stages: list[int]) -> None:
        """And room for a column dropped at an earlier stage."""
        for stage in reversed(stages):
            back = [i for i in range(len(self.columns)) if i not in self.keep and self.columns[i].drop == stage]
            if back and sum(self.widths[i] for i in back) + 3 * len(back) <= -self.excess():
                self.keep = sorted(self.keep + back)

    def grid(self, body: list[list[str]], footer: list[str] | None) -> Grid:
        """The kept columns, names cut from the left to their widths."""
        keep, widths = self.keep, self.widths
        shortened = False
        for i in keep:
            if any(cell_len(r[i]) > widths[i] for r in body):
                shortened = True
                for r in body:
                    r[i] = cut_left(r[i], widths[i])
        return Grid(
            [self.columns[i] for i in keep],
            [widths[i] for i in keep],
            [self.header[i] for i in keep],
            [[r[i] for i in keep] for r in body],
            [footer[i] for i in keep] if footer else None,
            [c.header for i, c in enumerate(self.columns) if i not in keep],
            shortened,
        )


def _pad(text: str, width: int, align: str) -> str:
    width += len(text) - cell_len(text)  # str.rjust counts characters, not cells
    return text.rjust(width) if align == "right" else text.ljust(width)


def plain_lines(grid: Grid) -> list[str]:
    """The table as rich's SIMPLE_HEAD box draws it without edge padding, trailing blanks removed."""

    def line(cells):
        return (" " + "   ".join(_pad(t, w, c.align) for t, w, c in zip(cells, grid.widths, grid.columns))).rstrip()

    lines = [line(grid.header), " " + "─" * (grid.width(False) - 2)]
    lines += [line(r) for r in grid.rows]
    if grid.footer is not None:
        lines += ["", line(grid.footer)]
    return lines + [""]


def styled_lines(
    grid: Grid, title: str | None = None, row_styles=None, header_style="bold", footer_style="bold"
) -> list[list[tuple[str, str]]]:
    """The table as rich's ROUNDED box draws it: each line a list of (text, style) pieces, the same
    pieces rich's Table would write, without its layout cost. Cell text is never read as markup."""
    widths = grid.widths
    out = []
    if title is not None:
        total = grid.width(True)
        left = (total - cell_len(title)) // 2
        out.append(
            [
                (" " * left, "italic"),
                (title, "bold italic"),  # rich's table.title style
                (" " * (total - left - cell_len(title)), "italic"),
            ]
        )

    def rule(left, mid, right):
        return [(left + mid.join("─" * (w + 2) for w in widths) + right, "")]

    def line(cells, row_style, cell_styles):
        pieces = [("│", "")]
        for text, w, column, style in zip(cells, widths, grid.columns, cell_styles):
            style = f"{row_style} {style}".strip() if row_style else style
            pieces += [(" ", style), (_pad(text, w, column.align), style), (" ", style), ("│", "")]
        return pieces

    out.append(rule("╭", "┬", "╮"))
    out.append(line(grid.header, header_style, [""] * len(widths)))
    out.append(rule("├", "┼", "┤"))
    column_styles = [c.style for c in grid.columns]
    for k, cells in enumerate(grid.rows):
        out.append(line(cells, row_styles[k] if row_styles else "", column_styles))
    if grid.footer is not None:
        out.append(rule("├", "┼", "┤"))
        out.append(line(grid.footer, footer_style, [""] * len(widths)))
    out.append(rule("╰", "┴", "╯"))
    return out


def hidden_note(grid: Grid) -> str | None:
    parts = []
    if grid.hidden:
        parts.append("hidden to fit: " + ", ".join(grid.hidden))
    if grid.shortened:
        parts.append("names cut from the left")
    return "; ".join(parts) + " (--wide shows all)" if parts else None


def make_console(screen: Screen, width: int | None = None):
    """A rich Console for `screen`; used to style lines, never to lay them out."""
    import io

    from rich.console import Console

    return Console(
        file=io.StringIO(),
        width=width or screen.width or 250,
        force_terminal=screen.color,
        no_color=not screen.color,
        color_system="auto" if screen.color else None,
        highlight=False,
        legacy_windows=False,
    )


def _text(line):
    from rich.text import Text

    if isinstance(line, str):
        return Text(line)
    text = Text()
    for piece, style in line:
        text.append(piece, style)
    return text


def print_lines(console, lines) -> None:
    """Each line as given, through console.print (for a recording console: SVG and HTML exports).
    No wrapping, no cropping."""
    for line in lines:
        console.print(_text(line), no_wrap=True, overflow="ignore", crop=False, soft_wrap=True)


def draw(grid: Grid, title: str, tail: list[str], screen: Screen) -> str:
    """A memory-style table (memory, serve, parallel): the title, the grid and the lines under it,
    boxed or plain as the screen wants."""
    if not screen.boxed:
        lines = [title, ""] + plain_lines(grid) + tail
        return "\n".join(lines) + "\n" if not screen.color else styled_text(lines, screen)
    return styled_text(styled_lines(grid, title) + tail, screen)


def styled_text(lines, screen: Screen) -> str:
    """The lines as a terminal gets them: rich's Style writes each piece's codes, as console.print
    would write them, without building a renderable per line (which costs ~0.3 ms a line)."""
    from rich.color import ColorSystem

    console = make_console(screen)
    system = {
        "standard": ColorSystem.STANDARD,
        "256": ColorSystem.EIGHT_BIT,
        "truecolor": ColorSystem.TRUECOLOR,
        "windows": ColorSystem.WINDOWS,
    }.get(console.color_system or "")
    styles = {}
    out = []
    for line in lines:
        for piece, style in ((line, ""),) if isinstance(line, str) else line:
            if style and system:
                if style not in styles:
                    styles[style] = console.get_style(style)
                out.append(styles[style].render(piece, color_system=system))
            else:
                out.append(piece)
        out.append("\n")
    return "".join(out)


# ---------------------------------------------------------------- the analysis table


def summary(report) -> str:
    t = report.totals
    shared = sum(r.shared for r in report.layers)
    lines = [
        f"{terminal(report.name)}: {human_params(t.params)} params ({t.params:,})"
        + (
            f", {human_params(t.active_params)} active per token ({t.active_params:,})"
            if t.active_params != t.params
            else ""
        )
        + (f", {t.non_trainable:,} frozen" if t.non_trainable else "")
        + (f"; {shared:,} tied weights counted once" if shared else ""),
        f"{human(t.macs, 'MACs')} ({t.macs:,}) at batch {report.batch}",
        f"{human_bytes(t.param_bytes)} of {report.dtype} parameters",
    ]
    if t.buffers:
        lines.append(f"{t.buffers:,} buffer elements")
    return "\n".join(lines)


def report_grid(
    report, depth=None, screen: Screen = PIPE, columns=None, wide=False, memory=False, rf=False, share=False
):
    rows = visible_rows(report, depth)
    columns = columns or give_way(default_columns(report, depth), extra_columns(report, memory, rf, share))
    grid = lay_out(columns, rows, report, screen, wide)
    return grid, rows


def report_lines(
    report, depth=None, screen: Screen = PIPE, columns=None, wide=False, memory=False, rf=False, share=False
) -> list:
    """The table and the summary under it: plain strings, or (text, style) pieces for a terminal."""
    grid, rows = report_grid(report, depth, screen, columns, wide, memory, rf, share)
    note = hidden_note(grid)
    tail = ([note] if note else []) + summary(report).split("\n") + ([memory_note(report)] if memory else [])
    tail += costliest_lines(report, depth) if share else []
    if not screen.boxed:
        return plain_lines(grid) + tail
    styles = ["bold" if hasattr(row, "first") and not is_collapsed(row, depth) else "" for row in rows]
    return styled_lines(grid, terminal(report.name), styles) + tail


def render_table(
    report, depth=None, screen: Screen | None = None, columns=None, wide=False, memory=False, rf=False, share=False
) -> str:
    screen = screen or detect_screen()
    lines = report_lines(report, depth, screen, columns, wide, memory, rf, share)
    if not screen.boxed and not screen.color:
        return "\n".join(lines) + "\n"
    return styled_text(lines, screen)


def natural_width(lines) -> int:
    return max(cell_len(line if isinstance(line, str) else "".join(p for p, _ in line)) for line in lines)


def export(lines, fmt: str, title: str) -> str:
    """The coloured table recorded as an SVG or HTML document exactly as wide as the table."""
    import io

    from rich.console import Console

    console = Console(
        file=io.StringIO(),
        record=True,
        width=natural_width(lines),
        force_terminal=True,
        color_system="truecolor",
        highlight=False,
        legacy_windows=False,
    )
    print_lines(console, lines)
    return console.export_svg(title=title) if fmt == "svg" else console.export_html()
