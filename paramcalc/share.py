"""Where the cost goes: each row's share of the network's params and MACs, and the costliest
layers or blocks at a depth. Pure: the table renders what this returns."""

from __future__ import annotations


def shares(row, totals) -> tuple[float, float]:
    """A layer's or block's fraction of the total params (a tied weight counted by its owner) and MACs."""
    own = row.params - row.shared
    return own / totals.params if totals.params else 0.0, row.macs / totals.macs if totals.macs else 0.0


def units(report, depth: int | None):
    """The rows that split the network without overlap at a depth: the blocks at that depth and the
    layers outside them; every layer without a depth."""
    if not depth:
        return list(report.layers)
    blocks = [b for b in report.blocks if b.depth == depth]
    return blocks + [r for r in report.layers if len(r.path) < depth]


def costliest(report, depth: int | None = None, n: int = 5) -> dict[str, list[tuple[str, float]]]:
    """The n rows with the largest share of params, and of MACs (ties in file order; zero shares left out)."""
    rows = sorted(units(report, depth), key=lambda r: r.first if hasattr(r, "first") else r.index)
    top = {}
    for i, key in enumerate(("params", "macs")):
        ranked = sorted(((shares(r, report.totals)[i], r.name) for r in rows), key=lambda s: -s[0])
        top[key] = [(name, share) for share, name in ranked[:n] if share > 0]
    return top
