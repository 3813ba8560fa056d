"""`repeat: N`: a layer, group or block N times (`first: {...}` overrides fields of the first), as a
block named NAME with repetitions NAME.0, NAME.1, ...; a repetition like the one before it is
stamped from it (stamping.py) rather than expanded again."""

from __future__ import annotations

from ..errors import SpecError, describe
from ..yaml_reader import YMap
from .records import Block
from .stamping import Stamp
from .state import UNREACHED, Scope, State, copy_name


class Repeats(State):
    def repeat(self, entry, scope, sources, local, count):
        loc = entry.meta_locs["repeat"]
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise SpecError(
                f"'repeat' expects a non-negative integer, found {describe(count)}", loc, context=scope.context
            )
        self.room_for_repeats(entry, scope, count)
        first = self.meta(entry, "first", scope)
        if first is not None and not isinstance(first, YMap):
            raise SpecError(
                "'first' expects a mapping of fields that differ in the first repetition",
                entry.meta_locs["first"],
                context=scope.context,
            )
        if count == 0:  # nothing added: the flow passes through, and the name stays usable
            if local is not None:
                self.define(scope, local, scope.prefix + local, entry.loc)
                self.aliases[scope.prefix + local] = scope.names[local] = sources[0]
            return sources[:1]
        pattern = self.pattern(entry, scope) if "names" in entry.meta else None
        # In a group with `names:` (nn.Sequential's numbering), a repeat without a name of its own
        # adds its copies to the group's items, each named by the group's pattern, as torchvision
        # builds a Sequential from a list of blocks; its block is named by its first and last copy.
        spread = local is None and pattern is None and scope.pattern is not None
        kind = f"{entry.kind or 'group'} ×{count}"
        if spread:
            name = full = ""  # once its copies are named
            inner = Scope(scope.prefix, scope.input, scope.env, scope.context, parent=scope, again=True)
        else:
            name = local if local is not None else scope.auto_name(entry.kind or "group")
            full = scope.prefix + name
            self.define(scope, name, full, entry.loc)
            inner = Scope(full + ".", scope.input, scope.env, scope.context, parent=scope, again=True)
        block = Block(full, kind, entry.loc, len(self.nodes), inputs=list(sources))
        self.blocks.append(block)
        current = sources
        self.enter(entry.loc, scope)
        stamp = None
        copies = []
        for i in range(count):
            self.spend(entry.loc, scope)
            copy = scope.auto_name("") if spread else str(i) if pattern is None else copy_name(pattern, i)
            copies.append(copy)
            if stamp is not None and (out := self.stamp(stamp, inner, copy, current)) is not None:
                current = out
                continue
            marks = (len(self.nodes), len(self.blocks), len(self.aliases), self.work, self.name_chars)
            reads, reached, self.reached = self.shape_reads, self.reached, UNREACHED
            out = self.one(entry, inner, current, copy, overrides=first if i == 0 else None)
            # What the next repetitions can be stamped from: this one, if its arguments are theirs
            # (no `first:`) and it read no shape and no name from around it (only its input).
            read_outside, self.reached = self.reached <= inner.level, min(reached, self.reached)
            stamp = None
            if not (i == 0 and first) and not read_outside and self.stampable(inner, copy, marks):
                stamp = Stamp(self, inner.prefix + copy, current, out, marks)
                # Where it read shapes (of its own layers only: a block sized by `shape(input)`), the
                # next one, which reads its output, expands the same if that has its input's shapes.
                if not stamp.ok or (
                    reads != self.shape_reads
                    and self.shapes_of(current, entry.loc, inner) != self.shapes_of(out, entry.loc, inner)
                ):
                    stamp = None
            current = out
        self.nesting -= 1
        block.end = len(self.nodes)
        if spread:
            name = f"{copies[0]}-{copies[-1]}"
            block.name = full = scope.prefix + name
            self.define(scope, name, full, entry.loc)
        self.aliases[full] = scope.names[name] = current[0]
        return current

    def shapes_of(self, names: list[str], loc, scope: Scope) -> tuple:
        return tuple(self.shape(name, name, loc, scope) for name in names)

    def stampable(self, scope: Scope, local: str, marks: tuple) -> bool:
        """Whether the repetition just expanded can be stamped: a block's use whose nodes all carry its
        own context (no block used inside it: the context of such a node names its use)."""
        nodes, blocks = marks[0], marks[1]
        if len(self.nodes) == nodes or len(self.blocks) == blocks:
            return False
        block = self.blocks[blocks]
        context = self.nodes[nodes].context
        return (
            block.args is not None
            and block.name == scope.prefix + local
            and context[1:] == scope.context
            and all(node.context is context for node in self.nodes[nodes:])
        )
