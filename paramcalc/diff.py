"""`paramcalc diff`: two reports compared layer by layer (matched by hierarchical name), or block by
block down to a depth. A layer whose name changed but whose kind, place, shapes and counts did not
is a rename. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .report import LayerRow, Report, Totals

if TYPE_CHECKING:
    from .analysis import Analysis

ADDED, REMOVED, CHANGED, RENAMED, SAME = "added", "removed", "changed", "renamed", "same"
STATUSES = (ADDED, REMOVED, CHANGED, RENAMED)


@dataclass(frozen=True)
class LayerChange:
    name: str
    status: str
    old: LayerRow | None  # or BlockRow, when compared to a depth
    new: LayerRow | None
    settings: tuple[str, ...] = ()  # fields that changed and count nothing (dropout p, eps, ...)

    def value(self, side: str, key: str):
        row = self.old if side == "old" else self.new
        return getattr(row, key) if row else None

    def delta(self, key: str) -> int:
        return (self.value("new", key) or 0) - (self.value("old", key) or 0)

    @property
    def settings_only(self) -> bool:
        """Changed in fields that count nothing, and in nothing else."""
        return self.status == CHANGED and bool(self.settings) and _signature(self.old) == _signature(self.new)


@dataclass(frozen=True)
class DiffReport:
    old: Report
    new: Report
    changes: list[LayerChange]
    depth: int | None = None

    def counts(self) -> dict[str, int]:
        return {s: sum(c.status == s for c in self.changes) for s in STATUSES}

    @property
    def changed(self) -> bool:
        """Anything differs: a layer, a total or an output shape (what --exit-code reports)."""
        return (
            any(c.status != SAME for c in self.changes)
            or self.old.totals != self.new.totals
            or self.old.outputs != self.new.outputs
        )

    def totals_delta(self) -> dict[str, tuple[int, int, int, float | None]]:
        """key -> (old, new, new - old, relative change or None when old is 0)."""
        out = {}
        for key in Totals.__dataclass_fields__:
            a, b = getattr(self.old.totals, key), getattr(self.new.totals, key)
            out[key] = (a, b, b - a, (b - a) / a if a else None)
        return out

    def to_dict(self, include_same: bool = False) -> dict:
        def side(row):
            return (
                None
                if row is None
                else {"kind": row.kind, "params": row.params, "macs": row.macs, "output_shape": row.output_shape}
            )

        return {
            "schema_version": 1,
            "depth": self.depth,
            "summary": self.counts(),
            "old": {"name": self.old.name, "source": self.old.source, "output_shape": self.old.output_shape},
            "new": {"name": self.new.name, "source": self.new.source, "output_shape": self.new.output_shape},
            "totals": {
                key: {"old": a, "new": b, "change": d, "relative": r}
                for key, (a, b, d, r) in self.totals_delta().items()
            },
            "layers": [
                {
                    "name": c.name,
                    "status": c.status,
                    "old": side(c.old),
                    "new": side(c.new),
                    "params_change": c.delta("params"),
                    "macs_change": c.delta("macs"),
                    **({"old_name": c.old.name} if c.status == RENAMED and c.old else {}),
                    **({"settings_changed": list(c.settings)} if c.settings else {}),
                }
                for c in self.changes
                if include_same or c.status != SAME
            ],
        }


def _settings(layers: list, row) -> list[dict]:
    """The field values of a row's layers (a block's: each of its layers'); `layers`: the analysis's."""
    first, last = (row.first, row.last) if hasattr(row, "first") else (row.index, row.index)
    return [{name: repr(getattr(layer, name)) for name in layer.fields()} for layer in layers[first : last + 1]]


def changed_settings(old: list, a, new: list, b) -> tuple[str, ...]:
    """The fields set differently in two matched rows ('p', 'eps', ...), whether or not a count
    changed with them: a PR gate sees every change of the spec's meaning."""
    before, after = _settings(old, a), _settings(new, b)
    if len(before) != len(after):
        return ("layers",)
    names = {k for x, y in zip(before, after) for k in x.keys() | y.keys() if x.get(k) != y.get(k)}
    return tuple(sorted(names))


def _signature(row):
    return (row.kind, row.params, row.buffers, row.macs, row.output_shape, row.input_shapes)


def diff_analyses(old_analysis: Analysis, new_analysis: Analysis, depth: int | None = None) -> DiffReport:
    """Two analyses compared row by row (to `depth`), layers matched by name."""
    old, new = old_analysis.report, new_analysis.report
    old_layers, new_layers = old.rows_to_depth(depth), new.rows_to_depth(depth)
    old_rows = {r.name: r for r in old_layers}
    new_names = {r.name for r in new_layers}
    # Removed layers go right after the nearest earlier old layer that survives (or first).
    removed_after: dict[str | None, list] = {}
    anchor = None
    for row in old_layers:
        if row.name in new_names:
            anchor = row.name
        else:
            removed_after.setdefault(anchor, []).append(row)
    changes = [LayerChange(r.name, REMOVED, r, None) for r in removed_after.get(None, [])]
    for row in new_layers:
        before = old_rows.get(row.name)
        settings = changed_settings(old_analysis.layers, before, new_analysis.layers, row) if before is not None else ()
        status = ADDED if before is None else CHANGED if settings or _signature(before) != _signature(row) else SAME
        changes.append(LayerChange(row.name, status, before, row, settings))
        changes += [LayerChange(r.name, REMOVED, r, None) for r in removed_after.get(row.name, [])]
    return DiffReport(old, new, _pair_renames(changes), depth)


def _pair_renames(changes: list[LayerChange]) -> list[LayerChange]:
    """Between the same two surviving layers, a removed and an added layer that agree in everything
    but the name are one layer renamed (matched in order)."""
    out: list[LayerChange] = []
    gap: list[LayerChange] = []

    def close_gap():
        removed = [c for c in gap if c.status == REMOVED]
        renamed_from, start = {}, 0
        for added in (c for c in gap if c.status == ADDED):
            for k in range(start, len(removed)):
                if _signature(removed[k].old) == _signature(added.new):
                    renamed_from[id(added)], start = removed[k], k + 1
                    break
        paired = {id(c) for c in renamed_from.values()}
        for c in gap:
            if id(c) in renamed_from:
                out.append(LayerChange(c.name, RENAMED, renamed_from[id(c)].old, c.new))
            elif id(c) not in paired:
                out.append(c)
        gap.clear()

    for c in changes:
        if c.status in (ADDED, REMOVED):
            gap.append(c)
        else:
            close_gap()
            out.append(c)
    close_gap()
    return out
