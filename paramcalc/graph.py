"""Entries -> an ordered DAG of leaf layers, expanding blocks, groups and repeats.

Every node gets a hierarchical name (`layer1.0.conv1`). A node's inputs are the previous node's
output unless it says `from:`; names resolve in the innermost scope (block, group) that has them,
then outward, and may only point backwards, so file order is execution order.
"""

from __future__ import annotations

import functools
import itertools
from typing import Any

from .errors import FieldError, Loc, ShapeError, SpecError, SpecWarning, describe, did_you_mean
from .escape import cut, quote
from .expressions import PLAIN, substitute
from .layers import REGISTRY, Layer, normalize_kind
from .layers.base import fmt_shape, values_key
from .spec import ENTRY_WORDS, META_KEYS, BlockDef, Entry, Spec, check_name
from .yaml_reader import YList, YMap

MAX_LAYERS = 100_000  # far above any real network; stops a `repeat: 1000000000` from hanging
# Expansion work, not only layers made: every entry visited (a skipped `when: false` one too), every
# block, group and repetition counts one. 100,000 layers in a repeated block cost about 300,000.
MAX_WORK = 500_000
MAX_NESTING = 32  # blocks, groups and repeats inside each other (real networks: under 6)
MAX_FULL_NAME = 512  # characters of a hierarchical name (layer1.0.conv1)
# Characters of all layer names and their enclosing blocks' names: what the JSON and tables will
# print. 100,000 layers with 30-character names nested 3 deep come to 12,000,000.
MAX_NAME_CHARS = 20_000_000


# The graph's records are never compared or printed: plain classes (a dataclass costs start-up time).
class Node:
    """One leaf layer of the expanded network: its name, its layer and what it reads."""

    __slots__ = ("index", "name", "kind", "layer", "inputs", "loc", "context", "frozen", "tie")  # one per layer

    def __init__(
        self,
        index: int,
        name: str,
        kind: str,
        layer: Layer,
        inputs: list[str],
        loc: Loc,
        context: tuple[str, ...] = (),
        frozen: bool = False,
        tie: str | None = None,
    ):
        self.index, self.name, self.kind, self.layer, self.inputs, self.loc = index, name, kind, layer, inputs, loc
        self.context, self.frozen = context, frozen
        self.tie = tie  # the node whose weights this one shares

    @property
    def label(self) -> str:
        return _label(self.index, self.name, self.kind)


def _label(index: int, name: str, kind: str) -> str:
    """How messages name a layer."""
    return f"layer {index} '{name}' ({kind})"


class Block:
    """A block instance, group or repeat: a contiguous run of nodes [start, end)."""

    def __init__(self, name: str, kind: str, loc: Loc, start: int, inputs: list[str], args: dict | None = None):
        self.name, self.kind, self.loc = name, kind, loc
        self.start, self.end = start, 0  # end: set once its nodes are built
        self.inputs = inputs
        self.args = args  # a block instance's argument values (export names constructor arguments)


class Graph:
    """The expanded network: leaf layers in execution order, and the blocks around them."""

    def __init__(self, nodes: list[Node], blocks: list[Block], outputs: list[str]):
        self.nodes, self.blocks = nodes, blocks
        self.outputs = outputs  # node names; the last is the main output


# ---------------------------------------------------------------- expansion


class _Scope:
    """Where names resolve while a block, group or repeat is expanded."""

    def __init__(
        self,
        prefix: str,
        input: str | None,
        env: dict[str, Any],
        context: tuple[str, ...],
        parent: _Scope | None = None,
        again: bool = False,
    ):
        self.prefix = prefix  # "" at top level, "layer1.0." inside a block instance
        self.input = input  # what `input` means here (None at top level: the network inputs)
        self.env, self.context, self.parent = env, context, parent
        self.level: int = parent.level + 1 if parent else 0  # scopes around it
        self.again = again  # in a block or repeat: its entries are expanded more than once
        self.names: dict[str, str] = {}  # local name -> node name
        self.counters: dict[str, int] = {}

    @functools.cached_property
    def prefixes(self) -> int:
        """The characters of this scope's and its parents' prefixes, which every layer name here repeats."""
        return len(self.prefix) + (self.parent.prefixes if self.parent else 0)

    def auto_name(self, kind: str) -> str:
        self.counters[kind] = self.counters.get(kind, 0) + 1
        return f"{kind}_{self.counters[kind]}"


class _Stamp:
    """A repetition of a block, as its expansion left it: the nodes, blocks and names it added and the
    budgets it spent, each name coded by where it comes from: an index into what the repetition
    reads, None for the repetition itself, else the part after its prefix. A later repetition with
    the same arguments expands to the same but for those names: see _Expander.stamp."""

    __slots__ = ("prefix", "sources", "nodes", "blocks", "aliases", "out", "used", "work", "name_chars", "ok")

    def __init__(self, expander: _Expander, full: str, sources: list[str], out: list[str], marks: tuple):
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
            (code(b.name), b.kind, b.loc, b.start - first, b.end - first, [code(i) for i in b.inputs], b.args)
            for b in expander.blocks[blocks:]
        ]
        added = list(itertools.islice(reversed(expander.aliases.items()), len(expander.aliases) - aliases))
        self.aliases = [(code(alias), code(target)) for alias, target in reversed(added)]
        self.out = [code(name) for name in out]
        block = expander.blocks[blocks]
        self.used = block.kind, str(block.loc)  # the context line of its nodes, but for its name
        self.work, self.name_chars = expander.work - work, expander.name_chars - name_chars


class _Expander:
    def __init__(self, spec: Spec):
        self.spec = spec
        self.nodes: list[Node] = []
        self.blocks: list[Block] = []
        self.aliases: dict[str, str] = {}
        self.known: set[str] = set(spec.inputs)  # every name defined so far, for duplicates
        self.block_stack: list[str] = []
        self.shapes: dict[str, tuple[int, ...]] = dict(spec.inputs)  # of nodes[:shaped], for shape()
        self.shaped = 0
        self.shape_reads = 0  # shape() calls so far: a layer whose fields read one is not remembered
        # Equal block arguments share one env, so that an entry of a repeated block builds its layer
        # once per env: ids of (entry, env, `first:` overrides) -> those three (kept, so that their
        # ids stay theirs) and the layer.
        self.envs: dict[tuple, dict] = {}
        self.built: dict[tuple, tuple] = {}
        self.literal: dict[tuple, Layer] = {}  # layers written with plain ints and names, by what is written
        self.work = 0
        self.nesting = 0
        self.name_chars = 0
        # the outermost scope level a name was found at since it was last reset (see repeat)
        self.reached = MAX_NESTING + 2

    # -- budgets

    def spend(self, loc: Loc, scope: _Scope):
        self.work += 1
        if self.work > MAX_WORK:
            raise SpecError(
                f"the spec takes more than {MAX_WORK:,} steps to expand (blocks, repeats and skipped "
                f"layers count; a runaway repeat?); refusing to analyse it",
                loc,
                context=scope.context,
            )

    def enter(self, loc: Loc, scope: _Scope):
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise SpecError(
                f"blocks, groups and repeats nest more than {MAX_NESTING} deep here; refusing to analyse it",
                loc,
                context=scope.context,
            )

    # -- shapes, for `${shape(NAME)}`: computed for the nodes built so far, only when asked

    def sub(self, value, scope: _Scope, loc: Loc):
        """${...} substitution in a scope, where shape(NAME) reads the shape of a layer above."""
        if type(value) in PLAIN or (type(value) is str and "$" not in value):
            return value  # nothing to substitute: most values

        def shape_of(ref, at):
            self.shape_reads += 1
            return self.shape(self.resolve(ref, scope, at, in_shape=True), ref, at, scope)

        return substitute(value, scope.env, loc, scope.context, shape_of)

    def shape(self, name: str, ref: str, loc: Loc, scope: _Scope) -> tuple[int, ...]:
        for node in self.nodes[self.shaped :]:
            in_shapes = [self.shapes[n] for n in node.inputs]
            try:
                self.shapes[node.name] = tuple(node.layer.output_shape(in_shapes))
            except ShapeError as e:
                given = ", ".join(f"{n} {fmt_shape(s)}" for n, s in zip(node.inputs, in_shapes))
                raise SpecError(
                    str(e), node.loc, layer=node.label, context=(f"input: {given}",) + node.context
                ) from None
            self.shaped += 1
        if name not in self.shapes:
            ref = cut(ref, 60)
            raise SpecError(
                f"shape({ref}): '{ref}' is still being built here; shape() reads layers above, not the block it is in",
                loc,
                context=scope.context,
            )
        return self.shapes[name]

    # -- names

    def resolve(self, ref, scope: _Scope, loc: Loc, in_shape: bool = False) -> str:
        """The node a name stands for where it is read: in `from:` or `tie:`, or in shape(NAME)."""
        if not isinstance(ref, str):
            raise SpecError(
                f"'from' expects a layer name or a list of names, found {describe(ref)}", loc, context=scope.context
            )
        s: _Scope | None = scope
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
        later = self._defined_later(ref)
        shown = f"shape({cut(ref, 60)})" if in_shape else f"'from: {cut(ref, 60)}'"
        message = (
            f"{shown} points forward to a layer defined later; a layer can only take input from layers above it"
            if later
            else f"{shown} names no layer or input defined above"
        )
        candidates = list(self.known) + [n for sc in _chain(scope) for n in sc.names]
        raise SpecError(message, loc, context=scope.context, hint=None if later else did_you_mean(ref, candidates))

    def _defined_later(self, ref: str) -> bool:
        def walk(entries):
            for e in entries:
                if str(e.meta.get("name")) == ref:
                    return True
                if e.children and walk(e.children):
                    return True
            return False

        return walk(self.spec.layers)

    def define(self, scope: _Scope, local: str, full: str, loc: Loc):
        if len(full) > MAX_FULL_NAME:
            from .escape import cut

            raise SpecError(
                f"the hierarchical name {cut(full, 60)} is {len(full):,} characters long; at most "
                f"{MAX_FULL_NAME} are allowed",
                loc,
                context=scope.context,
            )
        if local in scope.names or full in self.known:
            raise SpecError(
                f"duplicate layer name '{full}'",
                loc,
                context=scope.context,
                hint="every layer name must be unique; rename one of them",
            )
        scope.names[local] = full
        self.known.add(full)

    # -- entries

    def expand(self, entries: list[Entry], scope: _Scope, current: list[str]) -> list[str]:
        """Expands entries in order; `current` is what the next layer takes by default. Returns the
        output of the last one."""
        for entry in entries:
            current = self.entry(entry, scope, current)
        return current

    def meta(self, entry: Entry, key: str, scope: _Scope, default=None):
        if key not in entry.meta:
            return default
        return self.sub(entry.meta[key], scope, entry.meta_locs[key])

    def entry(self, entry: Entry, scope: _Scope, current: list[str]) -> list[str]:
        self.spend(entry.loc, scope)
        if not entry.meta and current:  # most entries: no name, condition, source or repeat
            return self.one(entry, scope, current, None, overrides=None)
        when = self.meta(entry, "when", scope, True)
        if not isinstance(when, bool):
            raise SpecError(
                f"'when' expects true or false (e.g. when: ${{downsample}}), found {describe(when)}",
                entry.meta_locs["when"],
                context=scope.context,
            )
        sources = self.sources(entry, scope, current)
        raw_name = self.meta(entry, "name", scope)
        if isinstance(raw_name, bool) or (raw_name is not None and not isinstance(raw_name, (str, int))):
            raise SpecError(
                f"'name' expects a string, found {describe(raw_name)}", entry.meta_locs["name"], context=scope.context
            )
        local = (
            None
            if raw_name is None
            else check_name(str(raw_name), entry.meta_locs["name"], "layer name", dotted=True, context=scope.context)
        )
        if not when:
            # A skipped layer passes its (first) input through, as an nn.Identity would; its name stays usable.
            if local is not None:
                self.define(scope, local, scope.prefix + local, entry.loc)
                self.aliases[scope.prefix + local] = scope.names[local] = sources[0]
            return sources[:1]
        repeat = self.meta(entry, "repeat", scope)
        if repeat is not None:
            return self.repeat(entry, scope, sources, local, repeat)
        if "first" in entry.meta:
            raise SpecError("'first' only goes with 'repeat'", entry.meta_locs["first"], context=scope.context)
        return self.one(entry, scope, sources, local, overrides=None)

    def sources(self, entry: Entry, scope: _Scope, current: list[str]) -> list[str]:
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

    def repeat(self, entry, scope, sources, local, count):
        loc = entry.meta_locs["repeat"]
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise SpecError(
                f"'repeat' expects a non-negative integer, found {describe(count)}", loc, context=scope.context
            )
        too_many_layers = entry.kind in REGISTRY and count > MAX_LAYERS - len(self.nodes)
        if too_many_layers or count > MAX_WORK - self.work:
            # Refused before expanding: this many repetitions can never fit the budgets.
            limit = f"{MAX_LAYERS:,} layers" if too_many_layers else f"{MAX_WORK:,} steps"
            raise SpecError(
                f"'repeat: {count:,}' expands the spec to more than {limit} (a runaway repeat?); "
                f"refusing to analyse it",
                entry.loc,
                context=scope.context,
            )
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
        name = local if local is not None else scope.auto_name(entry.kind or "group")
        full = scope.prefix + name
        self.define(scope, name, full, entry.loc)
        block = Block(full, f"{entry.kind or 'group'} ×{count}", entry.loc, len(self.nodes), inputs=list(sources))
        self.blocks.append(block)
        inner = _Scope(full + ".", scope.input, scope.env, scope.context, parent=scope, again=True)
        current = sources
        self.enter(entry.loc, scope)
        stamp = None
        for i in range(count):
            self.spend(entry.loc, scope)
            if stamp is not None and (out := self.stamp(stamp, inner, str(i), current)) is not None:
                current = out
                continue
            marks = (len(self.nodes), len(self.blocks), len(self.aliases), self.work, self.name_chars)
            reads, reached, self.reached = self.shape_reads, self.reached, MAX_NESTING + 2
            out = self.one(entry, inner, current, str(i), overrides=first if i == 0 else None)
            # What the next repetitions can be stamped from: this one, if its arguments are theirs
            # (no `first:`) and it read no shape and no name from around it (only its input).
            read_outside, self.reached = self.reached <= inner.level, min(reached, self.reached)
            stamp = None
            if not (i == 0 and first) and not read_outside and reads == self.shape_reads:
                if self._stampable(inner, str(i), marks):
                    stamp = _Stamp(self, inner.prefix + str(i), current, out, marks)
                    stamp = stamp if stamp.ok else None
            current = out
        self.nesting -= 1
        block.end = len(self.nodes)
        self.aliases[full] = scope.names[name] = current[0]
        return current

    def _stampable(self, scope: _Scope, local: str, marks: tuple) -> bool:
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

    def stamp(self, stamp: _Stamp, scope: _Scope, local: str, sources: list[str]) -> list[str] | None:
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
            or len(self.nodes) + len(stamp.nodes) > MAX_LAYERS
            or self.work + stamp.work > MAX_WORK
            or self.name_chars + stamp.name_chars > MAX_NAME_CHARS
        ):
            return None
        self.work += stamp.work
        self.name_chars += stamp.name_chars
        first = len(self.nodes)
        context = (_used_as(*stamp.used, full),) + scope.context
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
        for code, kind, loc, start, end, inputs, args in stamp.blocks:
            block = Block(name(code), kind, loc, first + start, [name(i) for i in inputs], args)
            block.end = first + end
            self.blocks.append(block)
        for alias, target in aliases:
            self.aliases[alias] = target
            self.known.add(alias)
        scope.names[local] = self.aliases[full]
        return [name(code) for code in stamp.out]

    def one(self, entry: Entry, scope: _Scope, sources, local, overrides) -> list[str]:
        if entry.children is not None:
            return self.group(entry, scope, sources, local)
        written = self.sub(entry.kind, scope, entry.kind_loc)  # `- $act` picks a kind
        kind = normalize_kind(written) if isinstance(written, str) else ""
        if kind in REGISTRY:
            return self.leaf(entry, REGISTRY[kind], scope, sources, local, overrides)
        if isinstance(written, str) and written in self.spec.blocks:
            return self.block(entry, self.spec.blocks[written], scope, sources, local, overrides)
        if not isinstance(written, str):  # `- $act` with `act: [relu]`
            raise SpecError(
                f"a layer's kind is a name, found {describe(written)}", entry.kind_loc, context=scope.context
            )
        choices = [*REGISTRY, *self.spec.blocks, *ENTRY_WORDS]  # `- repaet: 2`: repeat, not reshape
        raise SpecError(
            f"unknown layer kind {quote(written)}",
            entry.kind_loc,
            context=scope.context,
            hint=did_you_mean(kind, choices) or "`paramcalc kinds` lists every kind",
        )

    def group(self, entry, scope, sources, local):
        name = local if local is not None else scope.auto_name("group")
        full = scope.prefix + name
        self.define(scope, name, full, entry.loc)
        block = Block(full, "group", entry.loc, len(self.nodes), inputs=list(sources))
        self.blocks.append(block)
        inner = _Scope(
            full + ".",
            sources[0] if len(sources) == 1 else scope.input,
            scope.env,
            scope.context,
            parent=scope,
            again=scope.again,
        )
        self.enter(entry.loc, scope)
        out = self.expand(entry.children, inner, sources)
        self.nesting -= 1
        block.end = len(self.nodes)
        self.aliases[full] = scope.names[name] = out[0]
        return out

    def block(self, entry, definition: BlockDef, scope, sources, local, overrides):
        if definition.name in self.block_stack:
            cycle = " → ".join(self.block_stack + [definition.name])
            raise SpecError(f"block '{definition.name}' uses itself ({cycle})", entry.kind_loc, context=scope.context)
        name = local if local is not None else scope.auto_name(definition.name)
        full = scope.prefix + name
        self.define(scope, name, full, entry.loc)
        values = dict(entry.fields)
        locs, key_locs = dict(entry.field_locs), dict(entry.key_locs)
        if entry.has_positional:
            raise SpecError(
                f"block '{definition.name}' takes named arguments "
                f"({', '.join(definition.args) or 'none'}), not a single value",
                entry.positional_loc,
                context=scope.context,
            )
        if overrides:
            values.update(overrides)
            locs.update(overrides.value_locs)
            key_locs.update(overrides.key_locs)
        env = {}
        for key, value in values.items():
            if key not in definition.args:
                raise SpecError(
                    f"block '{definition.name}' has no argument '{key}' "
                    f"(arguments: {', '.join(definition.args) or 'none'})",
                    key_locs.get(key, locs.get(key, entry.loc)),
                    context=scope.context,
                    hint=did_you_mean(key, definition.args),
                )
            env[key] = self.sub(value, scope, locs.get(key, entry.loc))
        for key, default in definition.args.items():
            if env.get(key) is None:
                if default is None:
                    raise SpecError(
                        f"block '{definition.name}' needs argument '{key}'", entry.kind_loc, context=scope.context
                    )
                env[key] = default
        same_args = values_key(definition.name, env)
        if same_args is not None:
            env = self.envs.setdefault(same_args, env)
        if len(sources) != 1:
            raise SpecError(
                f"block '{definition.name}' takes one input, found {len(sources)}",
                entry.meta_locs.get("from", entry.loc),
                context=scope.context,
            )
        block = Block(full, definition.name, entry.loc, len(self.nodes), inputs=list(sources), args=env)
        self.blocks.append(block)
        context = (_used_as(definition.name, entry.loc, full),) + scope.context
        inner = _Scope(full + ".", sources[0], env, context, parent=scope, again=True)
        self.block_stack.append(definition.name)
        self.enter(entry.loc, scope)
        self.spend(entry.loc, scope)
        out = self.expand(definition.layers, inner, sources)
        self.nesting -= 1
        self.block_stack.pop()
        block.end = len(self.nodes)
        self.aliases[full] = scope.names[name] = out[0]
        return out

    def leaf(self, entry: Entry, cls: type[Layer], scope: _Scope, sources, local, overrides) -> list[str]:
        """One layer: named, built from its fields, wired to its inputs, with its freeze and tie."""
        index = len(self.nodes)
        if index >= MAX_LAYERS:
            raise SpecError(
                f"the spec expands to more than {MAX_LAYERS:,} layers (a runaway repeat?); refusing to analyse it",
                entry.loc,
                context=scope.context,
            )
        full = self.leaf_name(entry, cls, scope, local)
        # (its label is made only where a message may need it: a long spec's layers mostly need none)
        layer = self.build(entry, cls, scope, index, full, overrides)
        inputs = self.wire(entry, cls, scope, sources, index, full)
        frozen, tie = False, None
        if entry.meta:
            label = _label(index, full, cls.kind)
            frozen, tie = self.freeze(entry, scope, label), self.tie(entry, cls, scope, label)
        self.nodes.append(Node(index, full, cls.kind, layer, inputs, entry.loc, scope.context, frozen, tie))
        # A source (a parameter) reads nothing and leaves the flow to the layer before it.
        return sources if cls.arity[0] == 0 else [full]

    def leaf_name(self, entry: Entry, cls: type[Layer], scope: _Scope, local) -> str:
        name = local if local is not None else scope.auto_name(cls.kind)
        full = scope.prefix + name
        self.define(scope, name, full, entry.loc)
        self.name_chars += len(full) + scope.prefixes
        if self.name_chars > MAX_NAME_CHARS:
            raise SpecError(
                f"the layer names come to more than {MAX_NAME_CHARS:,} characters (long names "
                "repeated many times?); refusing to analyse it",
                entry.loc,
                context=scope.context,
            )
        return full

    def build(self, entry: Entry, cls: type[Layer], scope: _Scope, index: int, full: str, overrides) -> Layer:
        """Layer `index` (`full`), built from its fields, or the layer already built from the same text
        (plain ints and names: a long spec repeats a few layers) or the same entry and block arguments."""
        literal = _literal(entry, cls) if overrides is None else None
        layer = self.literal.get(literal) if literal is not None else None
        if layer is not None:
            return layer
        key = (id(entry), id(scope.env), id(overrides)) if scope.again else None
        found = self.built.get(key) if key else None
        if found is not None:
            return found[-1]
        label = _label(index, full, cls.kind)
        reads = self.shape_reads
        values, locs = self.field_values(entry, cls, scope, label, overrides)
        try:
            layer = cls.build(values)
        except FieldError as e:
            loc = locs.get(e.field, entry.loc) if e.field else entry.loc
            message = f"field '{e.field}' {e.message}" if e.about_value else e.message
            raise SpecError(message, loc, layer=label, context=scope.context, hint=e.hint) from None
        if key and reads == self.shape_reads:  # fields that read a shape() may differ where used again
            self.built[key] = (entry, scope.env, overrides, layer)
        if literal is not None:
            self.literal[literal] = layer
        return layer

    def wire(self, entry: Entry, cls: type[Layer], scope: _Scope, sources, index: int, full: str) -> list[str]:
        """The inputs layer `index` (`full`) reads: `sources`, checked against its arity; none for a source."""
        fewest, most = cls.arity
        if fewest == 0:
            if "from" in entry.meta:
                raise SpecError(
                    "takes no input",
                    entry.meta_locs["from"],
                    layer=_label(index, full, cls.kind),
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
                layer=_label(index, full, cls.kind),
                context=scope.context,
            )
        return list(sources)

    def freeze(self, entry: Entry, scope: _Scope, label: str) -> bool:
        frozen = self.meta(entry, "freeze", scope, False)
        if not isinstance(frozen, bool):
            raise SpecError(
                f"'freeze' expects true or false, found {describe(frozen)}",
                entry.meta_locs["freeze"],
                layer=label,
                context=scope.context,
            )
        return frozen

    def tie(self, entry: Entry, cls: type[Layer], scope: _Scope, label: str) -> str | None:
        tie = self.meta(entry, "tie", scope)
        if tie is None:
            return None
        tie = self.resolve(tie, scope, entry.meta_locs["tie"])
        if not cls.has_weight() or tie in self.spec.inputs:
            raise SpecError(
                f"cannot share weights: tie works between layers with a weight ({_weight_kinds()}), "
                f"here {cls.kind} and '{cut(tie, 60)}'",
                entry.meta_locs["tie"],
                layer=label,
                context=scope.context,
            )
        return tie

    def field_values(self, entry: Entry, cls, scope, label, overrides):
        """Raw fields (PyTorch synonyms allowed, ${} substituted) -> canonical name: value."""
        synonyms = cls.synonyms()
        raw, locs, key_locs = entry.fields, entry.field_locs, entry.key_locs
        if overrides:
            raw, locs, key_locs = raw | overrides, locs | overrides.value_locs, key_locs | overrides.key_locs
        values, value_locs = {}, {}
        if entry.has_positional:
            if cls.primary is None:
                fields = ", ".join(cls.fields()) or "none"
                raise SpecError(
                    f"takes no single value; name its fields (fields: {fields})",
                    entry.positional_loc,
                    layer=label,
                    context=scope.context,
                )
            assert entry.positional_loc is not None  # set with has_positional
            values[cls.primary] = self.sub(entry.positional, scope, entry.positional_loc)
            value_locs[cls.primary] = entry.positional_loc
        for key, value in raw.items():
            key_loc = key_locs.get(key, locs.get(key, entry.loc))
            canonical = synonyms.get(key)
            if canonical is None:
                keyword = did_you_mean(key, META_KEYS)  # `frm:` inside the layer's mapping
                if keyword and not did_you_mean(key, synonyms):
                    hint = keyword.replace("?", "? (a layer keyword)")
                elif not synonyms:
                    hint = f"{cls.kind} has no fields"
                else:
                    hint = did_you_mean(key, synonyms) or f"fields: {', '.join(cls.fields())}"
                raise SpecError(f"unknown field '{key}'", key_loc, layer=label, context=scope.context, hint=hint)
            if canonical in values:
                raise SpecError(
                    f"field '{canonical}' is given twice (as '{key}' too)", key_loc, layer=label, context=scope.context
                )
            values[canonical] = self.sub(value, scope, locs.get(key, entry.loc))
            value_locs[canonical] = locs.get(key, entry.loc)
        return values, value_locs


def _literal(entry: Entry, cls: type[Layer]) -> tuple | None:
    """What an entry writes, as a key, when it builds the same layer wherever it is: its values are
    ints and names only (no ${...}; no bool or float, which compare equal to ints). None otherwise."""
    items = tuple(entry.fields.items())
    for _, value in items:
        if type(value) is not int and (type(value) is not str or "$" in value):
            return None
    positional = entry.positional
    if positional is not None and type(positional) is not int and (type(positional) is not str or "$" in positional):
        return None
    return (cls, entry.has_positional, positional, items)


def _used_as(block: str, loc: Loc | str, full: str) -> str:
    """The context line of the nodes of a block's use."""
    return f"in block '{block}' used as '{full}' at {loc}"


def _weight_kinds() -> str:
    return ", ".join(kind for kind, cls in REGISTRY.items() if cls.has_weight())


def unused_outputs(graph: Graph) -> list[SpecWarning]:
    """Layers and parameters whose output no layer reads and that are not declared outputs: usually a
    forgotten `from:`. Buffers are state, not flow, and are exempt. One warning per spec line, however
    often a block or repeat expands it."""
    read = {name for node in graph.nodes for name in node.inputs} | set(graph.outputs)
    read |= {node.tie for node in graph.nodes if node.tie}
    found: dict[Loc, list[Node]] = {}
    for node in graph.nodes:
        if node.name not in read and node.kind != "buffer":
            found.setdefault(node.loc, []).append(node)
    warnings = []
    for loc, nodes in found.items():
        more = f" (and {len(nodes) - 1} more from this line)" if len(nodes) > 1 else ""
        warnings.append(
            SpecWarning(
                f"its output is never used{more}: no layer reads it and it is not in 'outputs' (a forgotten 'from:'?)",
                loc,
                nodes[0].label,
            )
        )
    return warnings


def _chain(scope):
    while scope is not None:
        yield scope
        scope = scope.parent


def build_graph(spec: Spec) -> Graph:
    for name, definition in spec.blocks.items():
        if normalize_kind(name) in REGISTRY:
            raise SpecError(f"block '{name}' has the name of a layer kind; rename it", definition.loc)
        if name in ("repeat", "layers"):
            raise SpecError(f"'{name}' is reserved; rename the block", definition.loc)
    expander = _Expander(spec)
    top = _Scope("", None, {}, ())
    top.names.update({name: name for name in spec.inputs})
    start = [next(iter(spec.inputs))] if len(spec.inputs) == 1 else []
    last = expander.expand(spec.layers, top, start)
    if not expander.nodes:
        raise SpecError("no layer is left after 'when' conditions", spec.loc)
    outputs = [expander.resolve(name, top, loc) for name, loc in spec.outputs]
    main = last[0]
    if main not in outputs:
        outputs.append(main)
    return Graph(expander.nodes, expander.blocks, outputs)
