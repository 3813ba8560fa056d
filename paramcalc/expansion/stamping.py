"""Stamping: a repetition copied from the one before it (the same nodes, blocks and names, renamed),
where expanding it again would make the same: its arguments are the same, it reads nothing from
around it but its input, and the shapes it reads (of its own layers) are the same, as its output has
its input's shapes. Long repeats (a 100-layer transformer) cost one expansion, not N."""

from __future__ import annotations

import itertools

from ..errors import Loc
from .records import Block, Node
from .state import Scope, State


class Stamp:
    """A repetition of a block, as its expansion left it: the nodes, blocks and names it added and the
    budgets it spent, each name coded by where it comes from: an index into what the repetition
    reads, None for the repetition itself, else the part after its prefix. A later repetition with
    the same arguments expands to the same but for those names: see Stamping.stamp."""

    __slots__ = ("prefix", "sources", "nodes", "blocks", "aliases", "out", "used", "work", "name_chars", "ok")

    def __init__(self, expander: State, full: str, sources: list[str], out: list[str], marks: tuple):
        nodes, blocks, aliases, work, name_chars = marks
        self.prefix, self.sources, self.ok = full + ".", len(sources), True
        at: dict[str, int | None] = {name: i for i, name in enumerate(sources)}
        at[full] = None
        cut = len(self.prefix)

        def code(name: str):
            if name in at:
                return at[name]
            self.ok = self.ok and name.startswith(self.prefix)  # (what it reads is inside it or `sources`)
            return name[cut:]

        first = expander.nodes[nodes].index
        self.nodes = [
            (code(n.name), n.kind, n.layer, [code(i) for i in n.inputs], n.loc, n.frozen, n.tie and (code(n.tie),))
            for n in expander.nodes[nodes:]
        ]
        self.blocks = [
            (code(b.name), b.kind, b.loc, b.start - first, b.end - first, [code(i) for i in b.inputs], b.args, b.dense)
            for b in expander.blocks[blocks:]
        ]
        added = list(itertools.islice(reversed(expander.aliases.items()), len(expander.aliases) - aliases))
        self.aliases = [(code(alias), code(target)) for alias, target in reversed(added)]
        self.out = [code(name) for name in out]
        block = expander.blocks[blocks]
        self.used = block.kind, str(block.loc)  # the context line of its nodes, but for its name
        self.work, self.name_chars = expander.work - work, expander.name_chars - name_chars


class Stamping(State):
    def stamp(self, stamp: Stamp, scope: Scope, local: str, sources: list[str]) -> list[str] | None:
        """A repetition of the block `stamp` recorded, without expanding it again: the same nodes,
        blocks and names, renamed (its prefix for the recorded one's) and reading `sources`. Its
        arguments are the same, and nothing it reads lies outside it (names, shapes), so it would
        expand to the same. None where its names differ in length (budgets count characters), or a
        name or budget would fail: the repetition is then expanded, which reports it."""
        full = scope.prefix + local
        prefix = full + "."
        if len(prefix) != len(stamp.prefix) or len(sources) != stamp.sources:
            return None

        node_names = [prefix + node[0] for node in stamp.nodes]
        made = dict(zip((node[0] for node in stamp.nodes), node_names))  # a name read is its node's own string

        def name(code) -> str:
            if type(code) is int:
                return sources[code]
            return full if code is None else made[code] if code in made else prefix + code

        aliases = [(name(alias), name(target)) for alias, target in stamp.aliases]
        if (
            local in scope.names
            or not self.known.isdisjoint(node_names)
            or not self.known.isdisjoint(alias for alias, _ in aliases)
            or not self.fits(len(stamp.nodes), stamp.work, stamp.name_chars)
        ):
            return None
        self.work += stamp.work
        self.name_chars += stamp.name_chars
        first = len(self.nodes)
        context = (used_as(*stamp.used, full),) + scope.context
        for node_name, (_, kind, layer, inputs, loc, frozen, tie) in zip(node_names, stamp.nodes):
            self.nodes.append(
                Node(
                    len(self.nodes),
                    node_name,
                    kind,
                    layer,
                    [name(code) for code in inputs],
                    loc,
                    context,
                    frozen,
                    tie and name(tie[0]),
                )
            )
        self.known.update(node_names)
        for code, kind, loc, start, end, inputs, args, dense in stamp.blocks:
            block = Block(name(code), kind, loc, first + start, [name(i) for i in inputs], args)
            block.end, block.dense = first + end, dense
            self.blocks.append(block)
        for alias, target in aliases:
            self.aliases[alias] = target
            self.known.add(alias)
        scope.names[local] = self.aliases[full]
        return [name(code) for code in stamp.out]


def used_as(block: str, loc: Loc | str, full: str) -> str:
    """The context line of the nodes of a block's use."""
    return f"in block '{block}' used as '{full}' at {loc}"
