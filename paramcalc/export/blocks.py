"""Block classes: one class per block of the spec (per structure of its uses), whose literals that
differ between uses become constructor arguments (named after the block's arguments where they match)
and whose modules some uses leave out (`when:`) are optional."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..layers.binding import Hole, q
from .forward import Forward
from .init import Init
from .names import GLOBALS, identifier, plain
from .pyformat import flat, holes_of
from .tree import Mod, Tree


@dataclass(eq=False)
class Body:
    """A class's __init__ statements (expressions with holes) and forward, for one module."""

    init: list[tuple[str, Any]]  # (attribute, constructor) or ("", a statement)
    forward: list[str]  # a shape hole (holes[in_init:]) is written \x02index\x02
    signature: str
    holes: list[Hole] = field(default_factory=list)
    in_init: int = 0


@dataclass(eq=False)
class BlockClass:
    definition: str
    members: list[Mod]
    body: Body
    name: str = ""
    params: list[str] = field(default_factory=list)
    subs: list[str | None] = field(default_factory=list)  # each hole's text in the class
    optional: dict[str, list[bool]] = field(default_factory=dict)  # attribute: whether each use has it
    flags: dict[str, str] = field(default_factory=dict)  # attribute: the argument that says so


class Blocks:
    """The classes of a tree's block uses, nested ones first."""

    def __init__(self, tree: Tree):
        self.tree = tree
        self.classes: list[BlockClass] = []
        self.init = Init(tree, self.classes)
        self.forward = Forward(tree)

    def collect(self) -> None:
        """Each block use's body, grouped into classes level by level (nested classes first), whose
        differing literals become arguments."""
        classes = [m for m in self.tree.walk(self.tree.root) if m.mode == "class"]
        levels = self.levels(classes)
        for level in sorted(set(levels.values())):
            groups: dict[tuple[str, str], BlockClass] = {}
            bodies: dict[int, Body] = {}
            for mod in classes:
                if levels[id(mod)] != level:
                    continue
                assert mod.block is not None
                body = bodies[id(mod)] = self.body(mod)
                key = (mod.block.kind, "\n".join([*self.skeleton(body), *body.forward, body.signature]))
                if key not in groups:
                    groups[key] = BlockClass(mod.block.kind, [], body)
                groups[key].members.append(mod)
            holes: dict[int, list[list[Hole | None]]] = {
                id(c): [list(bodies[id(m)].holes) for m in c.members] for c in groups.values()
            }
            kept = self.merge(list(groups.values()), holes)
            for cls in kept:
                self.classes.append(cls)
                for mod in cls.members:
                    mod.group = len(self.classes) - 1
                self.parameterise(cls, holes[id(cls)])

    def levels(self, classes: list[Mod]) -> dict[int, int]:
        """The order classes are written in: nested ones first. Every use of a block on one level (the
        uses are compared, to find what differs), unless blocks nest each other both ways."""
        heights: dict[int, int] = {}
        for mod in reversed(classes):  # a pre-order walk reversed: nested classes first
            inner = [heights[id(c)] for c in self.tree.walk(mod) if c is not mod and c.mode == "class"]
            heights[id(mod)] = 1 + max(inner, default=-1)
        per_block: dict[str, int] = {}
        for mod in classes:
            assert mod.block is not None
            per_block[mod.block.kind] = max(per_block.get(mod.block.kind, 0), heights[id(mod)])
        levels = {id(m): per_block[m.block.kind] for m in classes if m.block is not None}
        for mod in classes:
            for inner in self.tree.walk(mod):
                if inner is not mod and inner.mode == "class" and levels[id(inner)] >= levels[id(mod)]:
                    return heights
        return levels

    def body(self, owner: Mod) -> Body:
        init: list[tuple[str, Any]] = []
        for part, child in owner.children.items():
            self.init.statements(owner, part, child, init)
        forward, signature = self.forward.write(owner)
        holes = []
        for attribute, e in init:
            for hole in holes_of(e):
                hole.where = attribute
                holes.append(hole)
        return Body(init, forward, signature, holes + self.forward.shape_holes, len(holes))

    def skeleton(self, body: Body) -> list[str]:
        index = {id(h): i for i, h in enumerate(body.holes)}
        return self.init.lines(body, lambda h: f"\x00{index[id(h)]}\x00")

    def merge(self, classes: list[BlockClass], holes: dict[int, list[list[Hole | None]]]) -> list[BlockClass]:
        """Uses of a block whose structure is another's without some modules (a `when:` dropped them)
        join its class, where those modules are optional: built when a flag argument says so, called
        when they exist. Returns the classes left. Only a class with more modules, of the same block,
        forward signature and shape arguments can take another in (what fits() asks first): classes are
        looked up by those, largest first, so uses that differ otherwise cost no comparison (4,096
        structures of one block were 16 million comparisons)."""
        larger: dict[tuple, list[BlockClass]] = {}
        for cls in sorted(classes, key=lambda c: -len(c.body.init)):
            larger.setdefault(self.join_key(cls.body, cls.definition), []).append(cls)
        joined: set[int] = set()
        for small in sorted(classes, key=lambda c: len(c.body.init)):
            if small.optional:  # it took others in: it stays
                continue
            for large in larger[self.join_key(small.body, small.definition)]:
                if len(large.body.init) <= len(small.body.init):
                    break
                if id(large) in joined:
                    continue
                found = self.fits(small.body, large)
                if found is None:
                    continue
                flags, positions = found
                for attribute in flags:
                    large.optional.setdefault(attribute, [True] * len(large.members))
                for attribute in large.optional:
                    large.optional[attribute] += [attribute not in flags] * len(small.members)
                for member_holes in holes[id(small)]:
                    aligned: list[Hole | None] = [None] * len(large.body.holes)
                    for hole, position in zip(member_holes, positions):
                        aligned[position] = hole
                    holes[id(large)].append(aligned)
                large.members += small.members
                joined.add(id(small))
                break
        return [c for c in classes if id(c) not in joined]

    @staticmethod
    def join_key(body: Body, definition: str) -> tuple:
        """What a class must share with another to take it in: its block, forward's signature and the
        number of shape arguments."""
        return definition, body.signature, len(body.holes) - body.in_init

    def fits(self, body: Body, cls: BlockClass) -> tuple[list[str], list[int]] | None:
        """(the attributes `body` lacks, where each of its holes is in cls's) if body is cls's structure
        without some modules, else None."""
        large = cls.body
        if body.signature != large.signature or len(body.holes) - body.in_init != len(large.holes) - large.in_init:
            return None
        missing: list[str] = []
        positions: list[int] = []
        j = hole = 0
        for attribute, e in large.init:
            count = len(list(holes_of(e)))
            if (
                j < len(body.init)
                and body.init[j][0] == attribute
                and flat(e, lambda h: "?") == flat(body.init[j][1], lambda h: "?")
            ):
                positions += range(hole, hole + count)
                j += 1
            elif plain(attribute) and all(a != attribute for a, _ in body.init):
                missing.append(attribute)
            else:
                return None
            hole += count
        if j != len(body.init) or not missing:
            return None
        calls = [line for line in large.forward if self.optional_call(line, missing)]
        if len(calls) != len(missing) or [line for line in large.forward if line not in calls] != body.forward:
            return None
        return missing, positions + list(range(large.in_init, len(large.holes)))

    @staticmethod
    def optional_call(line: str, attributes) -> str | None:
        """The attribute an `x = self.ATTRIBUTE(x)` line calls, if it is one of `attributes`."""
        match = re.fullmatch(r"(\w+) = self\.(\w+)\((\w+)\)", line)
        return match.group(2) if match and match.group(1) == match.group(3) and match.group(2) in attributes else None

    def parameterise(self, cls: BlockClass, holes: list[list[Hole | None]]):
        """Literals equal in every use stay literals; the others become constructor arguments, named
        after the block's argument they equal (or are a multiple of), else after the field. A use
        without an optional module has none of its literals (None)."""
        args = [m.block.args or {} for m in cls.members if m.block is not None]
        params: dict[str, list[str]] = {}
        by_values: dict[tuple[str | None, ...], str] = {}
        for i, hole in enumerate(cls.body.holes):
            column = [h[i] for h in holes]
            present = [h for h in column if h is not None]
            values = [h.value if h is not None else None for h in column]
            if all(h.default for h in present):
                cls.subs.append(None)
                continue
            if len({h.value for h in present}) == 1:
                cls.subs.append(present[0].value)
                continue
            expression = self.from_args(values, args, params)
            if expression is None and None in values:  # an argument that agrees where this use has one
                agree = (n for n, t in params.items() if all(v in (None, w) for v, w in zip(values, t)))
                expression = next(agree, None)
            if expression is None:
                key = tuple(values)
                if key not in by_values:
                    by_values[key] = self.unique(hole, params)
                    params[by_values[key]] = [v if v is not None else "None" for v in values]
                expression = by_values[key]
            cls.subs.append(expression)
        for attribute, has in cls.optional.items():
            cls.flags[attribute] = name = self.unique(Hole("", attribute), params)
            params[name] = [repr(h) for h in has]
        for name, texts in list(params.items()):  # [96] where another argument is 96: [channels]
            inner = [v[1:-1] for v in texts if v[:1] + v[-1:] == "[]"]
            other = next((n for n, t in params.items() if t == inner), None) if len(inner) == len(texts) else None
            if other is not None:
                cls.subs = [f"[{other}]" if sub == name else sub for sub in cls.subs]
                del params[name]
        cls.params = list(params)
        for j, member in enumerate(cls.members):
            member.values = [params[p][j] for p in cls.params]

    @staticmethod
    def from_args(values: list[str | None], args: list[dict], params: dict[str, list[str]]) -> str | None:
        """`name` or `name * k` for a block argument whose values give these (where a use has one), else None."""
        for name in args[0]:
            if not plain(name) or name in GLOBALS or name[0].isupper():
                continue
            given = [a.get(name) for a in args]
            if not all(type(v) in (int, float, str, bool) for v in given):
                continue
            texts = [q(v) for v in given]
            if name in params and params[name] != texts:
                continue
            pairs = [(v, t, g) for v, t, g in zip(values, texts, given) if v is not None]
            if all(v == t for v, t, _ in pairs):
                params[name] = texts
                return name
            if all(type(g) is int and g > 0 and re.fullmatch(r"\d+", v) for v, _, g in pairs):
                ratios = {int(v) // g if int(v) % g == 0 else 0 for v, _, g in pairs if g}
                if len(ratios) == 1 and (k := ratios.pop()) > 1:
                    params[name] = texts
                    return f"{name} * {k}"
        return None

    @staticmethod
    def unique(hole: Hole, taken) -> str:
        """An argument's name: the field's (out_channels), else with the attribute's (conv2_out_channels)."""
        base = identifier(hole.label, "arg")
        if base in taken and hole.where:
            base = identifier(f"{hole.where}_{hole.label}", "arg")
        base = base if base not in GLOBALS and not base[0].isupper() else f"{base.lower()}_"
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        return name
