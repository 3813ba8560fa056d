"""`paramcalc memory --tp/--pp/...`'s output: the replica's bill, then each pipeline stage's device."""

from __future__ import annotations

from . import human
from .memory import printable

COLUMNS = (
    ("parameters", "parameters"),
    ("gradients", "gradients"),
    ("optimizer_state", "optimizer"),
    ("master_weights", "master"),
    ("saved_activations", "activations"),
    ("gathered_parameters", "gathered"),
)


def _bytes(n: int) -> str:
    return human(n, "B", binary=True)


def headline(result) -> str:
    s = result.replica.settings
    p = result.settings()
    parts = [printable(result.replica.name), f"micro-batch {result.replica.batch}", s["precision"], s["optimizer"]]
    layout = " · ".join(f"{k.upper()} {p[k]}" for k in ("tp", "pp", "ep", "cp", "dp") if p[k] > 1)
    parts.append(layout or "one device")
    for key, text in (
        ("sequence_parallel", "sequence parallel"),
        ("distributed_optimizer", "distributed optimizer"),
        ("fsdp", "FSDP"),
    ):
        if p[key]:
            parts.append(text)
    if p["pp"] > 1:
        parts.append(f"{p['pipeline_schedule']}, {p['microbatches']} microbatches")
    parts.append(f"{p['engine']}, {p['world_size']} devices")
    return " · ".join(parts)


def _cell(key: str):
    return lambda device: _bytes(device.components.get(key, 0))


def render_parallel_table(result, screen=None) -> str:
    from .table import Column, detect_screen, draw, lay_out

    screen = screen or detect_screen()
    keys = [k for k, _ in COLUMNS if any(k in d.components for d in result.devices)]
    labels = dict(COLUMNS)
    columns = [
        Column("stage", "stage", lambda d: str(d.stage)),
        Column("layers", "rows", lambda d: str(d.layers), align="right"),
    ]
    columns += [Column(k, labels[k], _cell(k), align="right") for k in keys]
    columns.append(Column("total", "total", lambda d: _bytes(d.total), align="right"))
    grid = lay_out(columns, result.devices, None, screen)
    most = result.most_loaded
    tail = [
        f"most loaded: stage {most.stage}, {_bytes(most.total)} per device ({most.total:,} bytes); "
        f"one replica unsharded {_bytes(result.replica.total)}"
    ]
    if result.par.fsdp:
        tail.append("FSDP: each rank keeps 1/dp of every tensor; 'gathered' is the largest unit's whole parameters")
    return draw(grid, headline(result), tail, screen)


def render(result, fmt: str) -> str:
    if fmt == "json":
        from .json import to_json

        return to_json(result.to_dict())
    return render_parallel_table(result)
