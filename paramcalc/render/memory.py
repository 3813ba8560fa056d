"""The `memory` command's output: one row per component, exact bytes in JSON, human units in the table."""

from __future__ import annotations

from . import human

LABELS = {
    "parameters": "parameters",
    "gradients": "gradients",
    "optimizer_state": "optimizer state",
    "master_weights": "master weights (fp32)",
    "saved_activations": "saved activations",
    "activations": "activations (peak)",
    "kv_cache": "KV cache",
}


def render_memory_json(result) -> str:
    from .json import to_json

    return to_json(result.to_dict())


def printable(text: str) -> str:
    """A spec's text for a terminal: control characters (an escape sequence) shown, not sent."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def headline(result) -> str:
    s = result.settings
    parts = [printable(result.name), s["mode"], f"batch {result.batch}", s["precision"]]
    if s["mode"] == "train":
        parts.append(s["optimizer"])
        if s["checkpoint"]:
            parts.append("activation checkpointing")
    elif s["weights"] != s["precision"]:
        parts.append(f"{s['weights']} weights")
    if s["kv_cache"]:
        parts.append(f"KV cache for {s['kv_cache']:,} positions")
    if s["devices"] > 1:
        parts.append(f"ZeRO-{s['zero']} on {s['devices']} devices" if s["zero"] else f"{s['devices']} devices")
    parts.append(f"{s['attention']} attention, {s['device']}")
    return " · ".join(parts)


def render_memory_table(result, screen=None) -> str:
    """One row per component, laid out by render/table.py like every other table."""
    from .table import Column, detect_screen, lay_out, plain_lines, styled_lines, styled_text

    screen = screen or detect_screen()
    kib = lambda n: human(n, "B", binary=True)  # noqa: E731
    columns = [
        Column("component", "component", lambda key: LABELS[key], lambda r: "total"),
        Column("bytes", "bytes", lambda key: f"{result.components[key]:,}", lambda r: f"{r.total:,}", align="right"),
        Column("human", "", lambda key: kib(result.components[key]), lambda r: kib(r.total), align="right"),
    ]
    if result.settings["devices"] > 1:
        columns.append(
            Column(
                "per_device",
                "per device",
                lambda key: kib(result.per_device_components[key]),
                lambda r: kib(r.per_device),
                align="right",
            )
        )
    keys = [key for key in LABELS if result.components[key] or key == "parameters"]
    grid = lay_out(columns, keys, result, screen)
    tail = [f"{kib(result.per_device)} per device ({result.per_device:,} bytes)"]
    if not screen.boxed:
        lines = [headline(result), ""] + plain_lines(grid) + tail
        return "\n".join(lines) + "\n" if not screen.color else styled_text(lines, screen)
    return styled_text(styled_lines(grid, headline(result)) + tail, screen)


def render(result, fmt: str) -> str:
    """`memory`'s output: table or json."""
    return render_memory_json(result) if fmt == "json" else render_memory_table(result)
