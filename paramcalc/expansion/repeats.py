"""`repeat: N`: a layer, group or block N times (`first: {...}` overrides fields of the first), as a
block named NAME with repetitions NAME.0, NAME.1, ...; a repetition like the one before it is
stamped from it (stamping.py) rather than expanded again. With `connect: dense` each repetition reads
the repeat's input and every earlier one's output, concatenated (NAME.concat_1, ...), as DenseNet's
dense block does."""

from __future__ import annotations

from ..errors import SpecError, describe, did_you_mean
from ..layers import REGISTRY
from ..yaml_reader import YMap
from .records import Block, Node
from .stamping import Stamp
from .state import UNREACHED, Scope, State, copy_name

CONNECTIONS = ("dense",)  # how a repeat's copies are connected, besides one after the other (the default)
CONCAT = REGISTRY["concat"].build({})  # a dense repeat's concatenations: torch.cat along dim 1 (channels)


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
        dense = self.dense(entry, scope, count)
        if count == 0:  # nothing added: the flow passes through, and the name stays usable
            if local is not None:
                self.define(scope, local, scope.prefix + local, entry.loc)
                self.aliases[scope.prefix + local] = scope.names[local] = sources[0]
            return sources[:1]
        pattern = self.pattern(entry, scope) if "names" in entry.meta else None
        # In a group with `names:` (nn.Sequential's numbering), a repeat without a name of its own
        # adds its copies to the group's items, each named by the group's pattern, as torchvision
        # builds a Sequential from a list of blocks; its block is named by its first and last copy.
        # (A dense repeat is one item: its concatenations are named inside it.)
        spread = local is None and pattern is None and scope.pattern is not None and not dense
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
        block.dense = dense
        self.blocks.append(block)
        current = sources
        features = sources[:1]  # a dense repeat's input and its copies' outputs so far
        self.enter(entry.loc, scope)
        stamp = None
        copies = []
        for i in range(count):
            self.spend(entry.loc, scope)
            copy = scope.auto_name("") if spread else str(i) if pattern is None else copy_name(pattern, i)
            copies.append(copy)
            if dense and i:
                current = [self.concatenated(entry, inner, features)]
            out = self.stamp(stamp, inner, copy, current) if stamp is not None else None
            if out is None:
                marks = (len(self.nodes), len(self.blocks), len(self.aliases), self.work, self.name_chars)
                reads, reached, self.reached = self.shape_reads, self.reached, UNREACHED
                out = self.one(entry, inner, current, copy, overrides=first if i == 0 else None)
                # What the next repetitions can be stamped from: this one, if its arguments are theirs
                # (no `first:`) and it read no name from around it (only its input).
                read_outside, self.reached = self.reached <= inner.level, min(reached, self.reached)
                stamp = None
                if not (i == 0 and first) and not read_outside and self.stampable(inner, copy, marks):
                    stamp = Stamp(self, inner.prefix + copy, current, out, marks)
                    if not stamp.ok or (
                        reads != self.shape_reads and not self.same_shapes(current, out, dense, entry, inner)
                    ):
                        stamp = None
            current = out
            if dense:
                features.append(out[0])
        if dense:
            current = [self.concatenated(entry, inner, features)]
        self.nesting -= 1
        block.end = len(self.nodes)
        if spread:
            name = f"{copies[0]}-{copies[-1]}"
            block.name = full = scope.prefix + name
            self.define(scope, name, full, entry.loc)
        self.aliases[full] = scope.names[name] = current[0]
        return current

    def same_shapes(self, sources: list[str], out: list[str], dense: bool, entry, scope: Scope) -> bool:
        """Whether a repetition that read shapes (of its own layers only: a block sized by `shape(input)`)
        expands the same as the next, which reads its output (not a dense join): if that has its input's
        shapes."""
        if dense:
            return False
        loc = entry.meta_locs["repeat"]
        return [self.shape(n, n, loc, scope) for n in sources] == [self.shape(n, n, loc, scope) for n in out]

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

    def dense(self, entry, scope: Scope, count: int) -> bool:
        """Whether a repeat says `connect: dense`, refused before expanding where its concatenations
        (of 2, 3, ..., count + 1 tensors) can never fit the budget."""
        connect = self.meta(entry, "connect", scope)
        if connect is None:
            return False
        loc = entry.meta_locs["connect"]
        if connect not in CONNECTIONS:
            raise SpecError(
                "'connect' expects dense (each copy reads the repeat's input and every earlier copy's "
                f"output, concatenated), found {describe(connect)}",
                loc,
                context=scope.context,
                hint=did_you_mean(connect, CONNECTIONS) if isinstance(connect, str) and len(connect) < 60 else None,
            )
        self.room_for_reads(count * (count + 3) // 2, f"'repeat: {count:,}' with 'connect: dense'", loc, scope)
        return True

    def concatenated(self, entry, scope: Scope, features: list[str]) -> str:
        """A dense repeat's concatenation of its input and its copies' outputs so far (`concat_N` in
        it, N copies in): what the next copy reads, or after the last, the repeat's output."""
        self.room_for_a_layer(entry, scope)
        loc = entry.meta_locs["connect"]
        self.work += len(features) - 1
        self.spend(loc, scope)
        name = scope.auto_name(CONCAT.kind)
        full = scope.prefix + name
        self.define(scope, name, full, loc)
        self.count_name(full, entry, scope)
        self.nodes.append(Node(len(self.nodes), full, CONCAT.kind, CONCAT, list(features), loc, scope.context))
        return full
