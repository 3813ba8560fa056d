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


def render_memory_table(result) -> str:
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    from .table import make_console, tidy
    console, plain = make_console()
    split = result.settings["devices"] > 1
    table = Table(box=box.SIMPLE_HEAD if plain else box.ROUNDED, show_footer=True, pad_edge=not plain,
                  title=None if plain else escape(headline(result)), header_style="" if plain else "bold",
                  footer_style="" if plain else "bold")
    table.add_column("component", footer="total")
    table.add_column("bytes", justify="right", footer=f"{result.total:,}")
    table.add_column("", justify="right", footer=human(result.total, "B", binary=True))
    if split:
        table.add_column("per device", justify="right", footer=human(result.per_device, "B", binary=True))
    for key, label in LABELS.items():
        value = result.components[key]
        if not value and key not in ("parameters",):
            continue
        cells = [label, f"{value:,}", human(value, "B", binary=True)]
        if split:
            cells.append(human(result.per_device_components[key], "B", binary=True))
        table.add_row(*cells)
    with console.capture() as capture:
        if plain:
            console.print(headline(result), markup=False)
        console.print(table)
        console.print(f"{human(result.per_device, 'B', binary=True)} per device ({result.per_device:,} bytes)")
    return tidy(capture.get(), plain)
