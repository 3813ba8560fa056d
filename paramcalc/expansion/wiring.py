"""Wiring a layer: what it reads (`from:`, else the flow so far; a merge with one `from` adds it to
the flow), checked against its arity, and its `freeze:` and `tie:`."""

from __future__ import annotations

from ..errors import SpecError, describe
from ..escape import cut
from ..layers import REGISTRY, Layer, normalize_kind
from ..spec import Entry
from ..yaml_reader import YList
from .records import layer_label
from .state import Scope, State


class Wiring(State):
    def sources(self, entry: Entry, scope: Scope, current: list[str]) -> list[str]:
        raw = self.meta(entry, "from", scope)
        if raw is None:
            if not current:
                raise SpecError(
                    "this layer has no input: with several network inputs, the first layer must say 'from: NAME'",
                    entry.loc,
                    context=scope.context,
                )
            return current
        loc = entry.meta_locs["from"]
        refs = raw if isinstance(raw, list) else [raw]
        locs = raw.locs if isinstance(raw, YList) else [loc] * len(refs)
        resolved = [self.resolve(ref, scope, ref_loc) for ref, ref_loc in zip(refs, locs)]
        if len(resolved) == 1 and self.merges(entry) and current:
            # `add: {from: shortcut}` reads as "add the shortcut": the flow so far, plus that input.
            return current[:1] + resolved
        return resolved

    def merges(self, entry: Entry) -> bool:
        kind = normalize_kind(entry.kind) if isinstance(entry.kind, str) else ""
        return kind in REGISTRY and REGISTRY[kind].arity[0] >= 2

    def wire(self, entry: Entry, cls: type[Layer], scope: Scope, sources, index: int, full: str) -> list[str]:
        """The inputs layer `index` (`full`) reads: `sources`, checked against its arity; none for a source."""
        fewest, most = cls.arity
        if fewest == 0:
            if "from" in entry.meta:
                raise SpecError(
                    "takes no input",
                    entry.meta_locs["from"],
                    layer=layer_label(index, full, cls.kind),
                    context=scope.context,
                )
            return []
        if not fewest <= len(sources) <= (most or len(sources)):
            wanted = (
                f"{fewest} or more inputs; say which with from: [a, b]"
                if most is None
                else f"{fewest} input" + ("s" if fewest > 1 else "")
                if fewest == most
                else f"{fewest} to {most} inputs"
            )
            raise SpecError(
                f"takes {wanted}, found {len(sources)} ({', '.join(sources) or 'none'})",
                entry.meta_locs.get("from", entry.loc),
                layer=layer_label(index, full, cls.kind),
                context=scope.context,
            )
        return list(sources)

    def freeze(self, entry: Entry, scope: Scope, label: str) -> bool:
        frozen = self.meta(entry, "freeze", scope, False)
        if not isinstance(frozen, bool):
            raise SpecError(
                f"'freeze' expects true or false, found {describe(frozen)}",
                entry.meta_locs["freeze"],
                layer=label,
                context=scope.context,
            )
        return frozen

    def tie(self, entry: Entry, cls: type[Layer], scope: Scope, label: str) -> str | None:
        tie = self.meta(entry, "tie", scope)
        if tie is None:
            return None
        tie = self.resolve(tie, scope, entry.meta_locs["tie"])
        if not cls.has_weight() or tie in self.spec.inputs:
            raise SpecError(
                f"cannot share weights: tie works between layers with a weight ({weight_kinds()}), "
                f"here {cls.kind} and '{cut(tie, 60)}'",
                entry.meta_locs["tie"],
                layer=label,
                context=scope.context,
            )
        return tie


def weight_kinds() -> str:
    return ", ".join(kind for kind, cls in REGISTRY.items() if cls.has_weight())
