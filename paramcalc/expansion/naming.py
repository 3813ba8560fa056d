"""Names: each layer's hierarchical name, defined once; a name read in `from:`, `tie:` or shape(NAME)
resolved in the innermost scope that has it, then outward, and only backwards."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import Loc, SpecError, describe, did_you_mean
from ..escape import cut
from ..spec import check_name
from .state import Scope, State, copy_name

if TYPE_CHECKING:
    from ..layers import Layer
    from ..spec import Entry


class Naming(State):
    def resolve(self, ref, scope: Scope, loc: Loc, in_shape: bool = False) -> str:
        """The node a name stands for where it is read: in `from:` or `tie:`, or in shape(NAME)."""
        if not isinstance(ref, str):
            raise SpecError(
                f"'from' expects a layer name or a list of names, found {describe(ref)}", loc, context=scope.context
            )
        s: Scope | None = scope
        while s is not None:
            if ref == "input" and s.input is not None:
                self.reached = min(self.reached, s.level)
                return s.input
            if ref in s.names:
                self.reached = min(self.reached, s.level)
                return s.names[ref]
            s = s.parent
        if ref in self.known:
            self.reached = -1
            return self.aliases.get(ref, ref)
        later = self.defined_later(ref)
        shown = f"shape({cut(ref, 60)})" if in_shape else f"'from: {cut(ref, 60)}'"
        message = (
            f"{shown} points forward to a layer defined later; a layer can only take input from layers above it"
            if later
            else f"{shown} names no layer or input defined above"
        )
        candidates = list(self.known) + [n for sc in scope.chain() for n in sc.names]
        raise SpecError(message, loc, context=scope.context, hint=None if later else did_you_mean(ref, candidates))

    def defined_later(self, ref: str) -> bool:
        def walk(entries):
            for e in entries:
                if str(e.meta.get("name")) == ref:
                    return True
                if e.children and walk(e.children):
                    return True
            return False

        return walk(self.spec.layers)

    def define(self, scope: Scope, local: str, full: str, loc: Loc) -> None:
        self.room_for_a_name(full, loc, scope)
        if local in scope.names or full in self.known:
            raise SpecError(
                f"duplicate layer name '{full}'",
                loc,
                context=scope.context,
                hint="every layer name must be unique; rename one of them",
            )
        scope.names[local] = full
        self.known.add(full)

    def pattern(self, entry: Entry, scope: Scope) -> str | None:
        """An entry's `names:`, how the copies of a repeat or the items of a group are named:
        a name with {i} (0-based position) or {n} (1-based), e.g. `denselayer{n}`, or just `"{i}"`."""
        pattern = self.meta(entry, "names", scope)
        if pattern is None:
            return None
        loc = entry.meta_locs["names"]
        if not isinstance(pattern, str) or "{i}" not in pattern and "{n}" not in pattern:
            raise SpecError(
                f"'names' expects a name with {{i}} (0, 1, ...) or {{n}} (1, 2, ...) in it, e.g. "
                f"denselayer{{n}}, found {describe(pattern)}",
                loc,
                context=scope.context,
            )
        check_name(copy_name(pattern, 0), loc, "'names' pattern", context=scope.context)
        return pattern

    def leaf_name(self, entry: Entry, cls: type[Layer], scope: Scope, local) -> str:
        name = local if local is not None else scope.auto_name(cls.kind)
        full = scope.prefix + name
        self.define(scope, name, full, entry.loc)
        self.count_name(full, entry, scope)
        return full
