"""Building a layer: its fields read (PyTorch synonyms allowed, ${...} substituted, shape(NAME) of a
layer above computed when asked), and the layer built once where the same text or the same entry
and block arguments build it again."""

from __future__ import annotations

from ..errors import FieldError, Loc, ShapeError, SpecError, did_you_mean
from ..escape import cut
from ..expressions import PLAIN, substitute
from ..layers import Layer
from ..layers.base import fmt_shape
from ..spec import META_KEYS, Entry
from .records import layer_label
from .state import Scope, State


class Building(State):
    def sub(self, value, scope: Scope, loc: Loc):
        """${...} substitution in a scope, where shape(NAME) reads the shape of a layer above."""
        if type(value) in PLAIN or (type(value) is str and "$" not in value):
            return value  # nothing to substitute: most values

        def shape_of(ref, at):
            self.shape_reads += 1
            return self.shape(self.resolve(ref, scope, at, in_shape=True), ref, at, scope)

        return substitute(value, scope.env, loc, scope.context, shape_of)

    def shape(self, name: str, ref: str, loc: Loc, scope: Scope) -> tuple[int, ...]:
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

    def build(self, entry: Entry, cls: type[Layer], scope: Scope, index: int, full: str, overrides) -> Layer:
        """Layer `index` (`full`), built from its fields, or the layer already built from the same text
        (literal ints and names: a long spec repeats a few layers) or the same entry and block arguments."""
        literal = literal_key(entry, cls) if overrides is None else None
        layer = self.literal.get(literal) if literal is not None else None
        if layer is not None:
            return layer
        key = (id(entry), id(scope.env), id(overrides)) if scope.again else None
        found = self.built.get(key) if key else None
        if found is not None:
            return found[-1]
        label = layer_label(index, full, cls.kind)
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


def literal_key(entry: Entry, cls: type[Layer]) -> tuple | None:
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
