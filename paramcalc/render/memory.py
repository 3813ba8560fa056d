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


DEFAULTED = {
    "cross_entropy": "the default for class scores",
    "causal_lm": "the default for token scores",
    "none": "the default: the output is neither class nor token scores",
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
        impl = "bitsandbytes" if s["optimizer"] == "adamw8bit" else s["optimizer_impl"]
        parts.append(f"{s['optimizer']} ({impl})")
        if s["checkpoint"]:
            parts.append("activation checkpointing")
        if s.get("lora"):
            kind = "QLoRA (NF4 base)" if s.get("qlora") else "LoRA"
            parts.append(f"{kind} rank {s['lora']} on {printable(s['lora_targets'])}")
        if s.get("offload"):
            parts.append(f"{s['offload']} offloaded to the host")
    elif s["weights"] != s["precision"]:
        parts.append(f"{s['weights']} weights")
    if s.get("loss"):
        parts.append(f"loss {s['loss']}" + (f" ({DEFAULTED[s['loss']]})" if s.get("loss_default") else ""))
    if s["kv_cache"]:
        parts.append(f"KV cache for {s['kv_cache']:,} positions")
    if s["devices"] > 1:
        parts.append(f"ZeRO-{s['zero']} on {s['devices']} devices" if s["zero"] else f"{s['devices']} devices")
    parts.append(f"{s['attention']} attention, {s['device']}")
    return " · ".join(parts)


def render_memory_table(result, screen=None) -> str:
    """One row per component, laid out by render/table.py like every other table."""
    from .table import Column, detect_screen, draw, lay_out

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
    tail = [f"{kib(result.per_device)} per device ({result.per_device:,} bytes)"] + answer_lines(result)
    return draw(grid, headline(result), tail, screen)


def answer_lines(result) -> list[str]:
    """The peak of the step, then the verdict on the device and the batch search, when asked."""
    kib = lambda n: human(n, "B", binary=True)  # noqa: E731
    lines = []
    if result.peak:
        where = f"{result.peak.phase}, at {printable(result.peak.layer)}" if result.peak.layer else result.peak.phase
        lines.append(f"peak {kib(result.peak.peak)} per device ({result.peak.peak:,} bytes) in {where}")
    if result.verdict:
        v = result.verdict
        reserve = f" with {kib(v['reserve_bytes'])} reserved" if v["reserve_bytes"] else ""
        if v["fits"]:
            lines.append(f"fits on {kib(v['gpu_bytes'])}{reserve}: {kib(v['headroom_bytes'])} to spare")
        else:
            lines.append(f"does not fit on {kib(v['gpu_bytes'])}{reserve}: {kib(-v['headroom_bytes'])} short")
    if result.max_batch is not None:
        lines.append(f"largest batch that fits: {result.max_batch:,}" if result.max_batch else "no batch fits")
    if result.max_seq is not None:
        lines.append(f"longest sequence that fits: {result.max_seq:,}" if result.max_seq else "no sequence fits")
    if result.host_components:
        host = sum(result.host_components.values())
        lines.append(f"host memory {kib(host)} per device ({host:,} bytes), offloaded")
    return lines


def render(result, fmt: str) -> str:
    """`memory`'s output: table or json."""
    return render_memory_json(result) if fmt == "json" else render_memory_table(result)
