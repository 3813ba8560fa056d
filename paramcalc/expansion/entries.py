"""Walking a spec's entries in order: each one's condition, then a repeat (repeats.py), a group, a
block's use (its arguments, its own scope) or one leaf layer (named, built, wired: naming.py,
building.py, wiring.py)."""

from __future__ import annotations

from ..errors import SpecError, describe, did_you_mean
from ..escape import quote
from ..layers import REGISTRY, Layer, normalize_kind
from ..layers.base import values_key
from ..spec import ENTRY_WORDS, BlockDef, Entry, check_name
from .records import Block, Node, layer_label
from .stamping import used_as
from .state import Scope, State


class Entries(State):
    def expand(self, entries: list[Entry], scope: Scope, current: list[str]) -> list[str]:
        """Expands entries in order; `current` is what the next layer takes by default. Returns the
        output of the last one."""
        for entry in entries:
            current = self.entry(entry, scope, current)
        return current

    def meta(self, entry: Entry, key: str, scope: Scope, default=None):
        if key not in entry.meta:
            return default
        return self.sub(entry.meta[key], scope, entry.meta_locs[key])

    def entry(self, entry: Entry, scope: Scope, current: list[str]) -> list[str]:
        self.spend(entry.loc, scope)
        if not entry.meta and current:  # most entries: no name, condition, source or repeat
            return self.one(entry, scope, current, None, overrides=None)
        meta = entry.meta  # (its keys tested here: most entries with any have a name only)
        when = self.meta(entry, "when", scope, True) if "when" in meta else True
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
        repeat = self.meta(entry, "repeat", scope) if "repeat" in meta else None
        if repeat is not None:
            return self.repeat(entry, scope, sources, local, repeat)
        for key in ("first", "connect"):
            if key in entry.meta:
                raise SpecError(f"'{key}' only goes with 'repeat'", entry.meta_locs[key], context=scope.context)
        if "names" in entry.meta and entry.children is None:
            raise SpecError(
                "'names' goes with 'repeat' or a group of layers ('layers: [...]')",
                entry.meta_locs["names"],
                context=scope.context,
            )
        return self.one(entry, scope, sources, local, overrides=None)

    def one(self, entry: Entry, scope: Scope, sources, local, overrides) -> list[str]:
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
        pattern = self.pattern(entry, scope) if "names" in entry.meta and "repeat" not in entry.meta else None
        name = local if local is not None else scope.auto_name("group")
        full = scope.prefix + name
        self.define(scope, name, full, entry.loc)
        block = Block(full, "group", entry.loc, len(self.nodes), inputs=list(sources))
        self.blocks.append(block)
        inner = Scope(
            full + ".",
            sources[0] if len(sources) == 1 else scope.input,
            scope.env,
            scope.context,
            parent=scope,
            again=scope.again,
            pattern=pattern,
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
        context = (used_as(definition.name, entry.loc, full),) + scope.context
        inner = Scope(full + ".", sources[0], env, context, parent=scope, again=True)
        self.block_stack.append(definition.name)
        self.enter(entry.loc, scope)
        self.spend(entry.loc, scope)
        out = self.expand(definition.layers, inner, sources)
        self.nesting -= 1
        self.block_stack.pop()
        block.end = len(self.nodes)
        self.aliases[full] = scope.names[name] = out[0]
        return out

    def leaf(self, entry: Entry, cls: type[Layer], scope: Scope, sources, local, overrides) -> list[str]:
        """One layer: named, built from its fields, wired to its inputs, with its freeze and tie."""
        self.room_for_a_layer(entry, scope)
        index = len(self.nodes)
        full = self.leaf_name(entry, cls, scope, local)
        # (its label is made only where a message may need it: a long spec's layers mostly need none)
        layer = self.build(entry, cls, scope, index, full, overrides)
        inputs = self.wire(entry, cls, scope, sources, index, full)
        frozen, tie = False, None
        if entry.meta:
            label = layer_label(index, full, cls.kind)
            frozen, tie = self.freeze(entry, scope, label), self.tie(entry, cls, scope, label)
        self.nodes.append(Node(index, full, cls.kind, layer, inputs, entry.loc, scope.context, frozen, tie))
        # A source (a parameter) reads nothing and leaves the flow to the layer before it.
        return sources if cls.arity[0] == 0 else [full]
