"""`paramcalc diff`: two reports compared layer by layer (matched by hierarchical name). Pure."""

from __future__ import annotations

from dataclasses import dataclass

from .report import LayerRow, Report, Totals

ADDED, REMOVED, CHANGED, SAME = "added", "removed", "changed", "same"


@dataclass(frozen=True)
class LayerChange:
    name: str
    status: str
    old: LayerRow | None
    new: LayerRow | None

    def value(self, side: str, key: str):
        row = self.old if side == "old" else self.new
        return getattr(row, key) if row else None

    def delta(self, key: str) -> int:
        return (self.value("new", key) or 0) - (self.value("old", key) or 0)


@dataclass(frozen=True)
class DiffReport:
    old: Report
    new: Report
    changes: list[LayerChange]

    def totals_delta(self) -> dict[str, tuple[int, int, int, float | None]]:
        """key -> (old, new, new - old, relative change or None when old is 0)."""
        out = {}
        for key in Totals.__dataclass_fields__:
            a, b = getattr(self.old.totals, key), getattr(self.new.totals, key)
            out[key] = (a, b, b - a, (b - a) / a if a else None)
        return out

    def to_dict(self, include_same: bool = False) -> dict:
        def side(row):
            return None if row is None else {"kind": row.kind, "params": row.params, "macs": row.macs,
                                             "output_shape": row.output_shape}
        return {
            "schema_version": 1,
            "old": {"name": self.old.name, "source": self.old.source, "output_shape": self.old.output_shape},
            "new": {"name": self.new.name, "source": self.new.source, "output_shape": self.new.output_shape},
            "totals": {key: {"old": a, "new": b, "change": d, "relative": r}
                       for key, (a, b, d, r) in self.totals_delta().items()},
            "layers": [{"name": c.name, "status": c.status, "old": side(c.old), "new": side(c.new),
                        "params_change": c.delta("params"), "macs_change": c.delta("macs")}
                       for c in self.changes if include_same or c.status != SAME],
        }


def _differs(a: LayerRow, b: LayerRow) -> bool:
    return (a.kind, a.params, a.buffers, a.macs, a.output_shape, a.input_shapes) != \
           (b.kind, b.params, b.buffers, b.macs, b.output_shape, b.input_shapes)


def diff_reports(old: Report, new: Report) -> DiffReport:
    old_rows = {r.name: r for r in old.layers}
    new_names = {r.name for r in new.layers}
    # Removed layers go right after the nearest earlier old layer that survives (or first).
    removed_after: dict[str | None, list[LayerRow]] = {}
    anchor = None
    for row in old.layers:
        if row.name in new_names:
            anchor = row.name
        else:
            removed_after.setdefault(anchor, []).append(row)
    changes = [LayerChange(r.name, REMOVED, r, None) for r in removed_after.get(None, [])]
    for row in new.layers:
        before = old_rows.get(row.name)
        status = ADDED if before is None else CHANGED if _differs(before, row) else SAME
        changes.append(LayerChange(row.name, status, before, row))
        changes += [LayerChange(r.name, REMOVED, r, None) for r in removed_after.get(row.name, [])]
    return DiffReport(old, new, changes)
