"""`memory --plot FILE.svg`: the live bytes over time as an SVG picture, written as text here (no
dependency): one stacked area per series, the phases' boundaries, the peak (its bytes, phase and
layer) and the device's memory. Presentation only: memory.plot() says what is alive at each moment.
Every text a spec controls (its name, a layer's) goes through escape.xml."""

from __future__ import annotations

from ..escape import xml
from . import human_bytes

WIDTH, HEIGHT = 960, 560
LEFT, RIGHT, TOP, BOTTOM = 90, 930, 80, 460  # the plotting area
COLOURS = {
    "parameters": "#4c72b0",
    "optimizer state": "#8172b3",
    "KV cache": "#937860",
    "gradients": "#dd8452",
    "activations": "#55a868",
    "temporaries": "#c44e52",
}
UNITS = ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB"), (1, "B"))
X_LABEL = {
    True: "one training step, moment by moment: each layer's forward, the loss, each layer's backward, the step",
    False: "the forward, layer by layer",
}


def _ticks(top: float) -> tuple[list[int], int, str]:
    """Tick values from 0 to `top`, at most 6 steps of 1, 2 or 5 times a power of ten in the binary
    unit `top` reads in, with that unit."""
    size, unit = next((size, unit) for size, unit in UNITS if top >= size)
    span = top / size
    step = next(c * 10.0**e for e in range(-1, 4) for c in (1, 2, 5) if span / (c * 10.0**e) <= 6)
    return [round(k * step * size) for k in range(int(span / step + 1e-9) + 1)], size, unit


def _columns(totals: list[int], width: float) -> list[tuple[int, int, int]]:
    """The moments drawn, as (first, end, shown): one column per moment, or where there are more moments
    than pixels, runs of them shown by their fullest moment (so the peak is always drawn)."""
    n = len(totals)
    count = min(n, int(width))
    runs = [(k * n // count, (k + 1) * n // count) for k in range(count)]
    return [(a, b, max(range(a, b), key=totals.__getitem__)) for a, b in runs]


def _title_lines(title: str, limit: int = 110) -> list[str]:
    """The headline's parts (" · ") on at most two lines of about `limit` characters; the rest cut."""
    lines = [""]
    for part in title.split(" · "):
        if lines[-1] and len(lines[-1]) + 3 + len(part) > limit:
            lines.append("")
        lines[-1] += (" · " if lines[-1] else "") + part
    if len(lines) > 2 or len(lines[-1]) > limit:
        lines[1:] = [" · ".join(lines[1:])[: limit - 1] + "…"]
    return [line[:limit] for line in lines]


def _fmt(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def render_plot(data, title: str, train: bool) -> str:
    """The SVG document (text) for memory.plot()'s `data`; `title`: the memory table's headline."""
    names = list(data.series)
    n = len(data.moments)
    totals = [sum(data.series[name][i] for name in names) for i in range(n)]
    y_max = max([*totals, data.gpu or 0, 1]) * 1.08
    ticks, size, unit = _ticks(y_max)
    x = lambda i: LEFT + (RIGHT - LEFT) * i / max(n, 1)  # noqa: E731
    y = lambda v: BOTTOM - (BOTTOM - TOP) * v / y_max  # noqa: E731
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
        f'height="{HEIGHT}" font-family="sans-serif" font-size="12">',
        f"<title>{xml(title)}</title>",
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        '<g id="title" font-size="13" font-weight="bold">',
        *(f'<text x="{LEFT}" y="{24 + 18 * k}">{xml(line)}</text>' for k, line in enumerate(_title_lines(title))),
        "</g>",
    ]
    out += _axes(ticks, size, unit, y, train)
    out += _phases(data.moments, x)
    out += _series(data, names, totals, x, y)
    out += _device(data, y)
    if n:
        out += _peak(data, totals, x, y)
    out += _legend(names)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _axes(ticks, size, unit, y, train: bool) -> list[str]:
    out = ['<g id="axes" stroke-width="1">']
    for t in ticks:
        label = "0" if t == 0 else f"{_fmt(t / size)} {unit}"
        out.append(f'<line x1="{LEFT}" y1="{y(t):.1f}" x2="{RIGHT}" y2="{y(t):.1f}" stroke="#e0e0e0"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y(t) + 4:.1f}" text-anchor="end">{label}</text>')
    out.append(f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{BOTTOM}" stroke="#000000"/>')
    out.append(f'<line x1="{LEFT}" y1="{BOTTOM}" x2="{RIGHT}" y2="{BOTTOM}" stroke="#000000"/>')
    middle = (TOP + BOTTOM) / 2
    out.append(f'<text x="20" y="{middle}" text-anchor="middle" transform="rotate(-90 20 {middle})">live bytes</text>')
    out.append(f'<text x="{(LEFT + RIGHT) / 2}" y="{BOTTOM + 20}" text-anchor="middle">{X_LABEL[train]}</text>')
    out.append("</g>")
    return out


def _phases(moments, x) -> list[str]:
    """A dashed line where each phase begins, its name beside it (a second row where names would meet)."""
    out = ['<g id="phases" font-size="11" fill="#444444">']
    starts = [i for i, (phase, _) in enumerate(moments) if i == 0 or moments[i - 1][0] != phase]
    last_x, row = -1e9, 0
    for i in starts:
        left = x(i)
        row = 1 - row if left - last_x < 70 else 0
        last_x = left
        out.append(
            f'<line class="phase" x1="{left:.1f}" y1="{TOP - 4}" x2="{left:.1f}" y2="{BOTTOM}" '
            'stroke="#888888" stroke-dasharray="4 3"/>'
        )
        out.append(f'<text x="{left + 3:.1f}" y="{TOP - 8 - 13 * row}">{xml(moments[i][0])}</text>')
    out.append("</g>")
    return out


def _series(data, names, totals, x, y) -> list[str]:
    """One polygon per series, between the series below it and its own top, a step per column."""
    columns = _columns(totals, RIGHT - LEFT) if totals else []
    below = [0] * len(columns)
    out = ['<g id="series">']
    for name in names:
        values = data.series[name]
        above = [b + values[shown] for b, (_, _, shown) in zip(below, columns)]
        upper = [f"{x(p):.1f},{y(v):.1f}" for (a, b, _), v in zip(columns, above) for p in (a, b)]
        lower = [f"{x(p):.1f},{y(v):.1f}" for (a, b, _), v in reversed(list(zip(columns, below))) for p in (b, a)]
        out.append(
            f'<polygon class="series" data-series="{xml(name)}" fill="{COLOURS[name]}" fill-opacity="0.85" '
            f'points="{" ".join(upper + lower)}"><title>{xml(name)}</title></polygon>'
        )
        below = above
    out.append("</g>")
    return out


def _device(data, y) -> list[str]:
    if data.gpu is None:
        return []
    out = ['<g id="device" font-size="11">']
    out.append(f'<line x1="{LEFT}" y1="{y(data.gpu):.1f}" x2="{RIGHT}" y2="{y(data.gpu):.1f}" stroke="#d62728"/>')
    label = f"device {human_bytes(data.gpu)}"
    out.append(f'<text x="{RIGHT}" y="{y(data.gpu) - 4:.1f}" text-anchor="end" fill="#d62728">{label}</text>')
    if data.reserve:
        usable = data.gpu - data.reserve
        out.append(
            f'<line x1="{LEFT}" y1="{y(usable):.1f}" x2="{RIGHT}" y2="{y(usable):.1f}" stroke="#d62728" '
            'stroke-dasharray="6 4"/>'
        )
        label = f"less {human_bytes(data.reserve)} reserved: {human_bytes(usable)} for tensors"
        out.append(f'<text x="{RIGHT}" y="{y(usable) + 13:.1f}" text-anchor="end" fill="#d62728">{label}</text>')
    out.append("</g>")
    return out


def _peak(data, totals, x, y) -> list[str]:
    i = data.peak
    phase, layer = data.moments[i]
    where = f"{phase}, at {layer}" if layer else phase
    text = f"peak {human_bytes(totals[i])} ({totals[i]:,} bytes) in {where}"
    px, py = x(i + 0.5), y(totals[i])
    room = RIGHT - px > 7.5 * len(text)  # about 7.5 pixels a character, bold at 12
    anchor, dx = ("start", 8) if room else ("end", -8)
    ty = max(py - 10, TOP + 12)
    return [
        '<g id="peak">',
        f'<circle cx="{px:.1f}" cy="{py:.1f}" r="4" fill="#000000"/>',
        f'<text x="{px + dx:.1f}" y="{ty:.1f}" text-anchor="{anchor}" font-weight="bold">{xml(text)}</text>',
        "</g>",
    ]


def _legend(names) -> list[str]:
    out = ['<g id="legend">']
    left = LEFT
    for name in names:
        out.append(f'<rect x="{left}" y="{BOTTOM + 42}" width="12" height="12" fill="{COLOURS[name]}"/>')
        out.append(f'<text x="{left + 16}" y="{BOTTOM + 52}">{xml(name)}</text>')
        left += 30 + 7 * len(name)
    out.append("</g>")
    return out
