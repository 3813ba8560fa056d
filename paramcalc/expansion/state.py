"""The expansion's limits, its scopes and its state, with the budgets every part spends from."""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..errors import Loc, SpecError
from ..layers import REGISTRY, Layer
from .records import Block, Node

if TYPE_CHECKING:
    from ..spec import BlockDef, Entry, Spec

MAX_LAYERS = 100_000  # far above any real network; stops a `repeat: 1000000000` from hanging
# Expansion work, not only layers made: every entry visited (a skipped `when: false` one too), every
# block, group and repetition counts one. 100,000 layers in a repeated block cost about 300,000.
MAX_WORK = 500_000
MAX_NESTING = 32  # blocks, groups and repeats inside each other (real networks: under 6)
MAX_FULL_NAME = 512  # characters of a hierarchical name (layer1.0.conv1)
# Characters of all layer names and their enclosing blocks' names: what the JSON and tables will
# print. 100,000 layers with 30-character names nested 3 deep come to 12,000,000.
MAX_NAME_CHARS = 20_000_000
UNREACHED = sys.maxsize  # State.reached when no name was read since it was last reset


class Scope:
    """Where names resolve while a block, group or repeat is expanded."""

    def __init__(
        self,
        prefix: str,
        input: str | None,
        env: dict[str, Any],
        context: tuple[str, ...],
        parent: Scope | None = None,
        again: bool = False,
        pattern: str | None = None,
    ):
        self.prefix = prefix  # "" at top level, "layer1.0." inside a block instance
        self.input = input  # what `input` means here (None at top level: the network inputs)
        self.env, self.context, self.parent = env, context, parent
        self.level: int = parent.level + 1 if parent else 0  # scopes around it
        self.again = again  # in a block or repeat: its entries are expanded more than once
        self.names: dict[str, str] = {}  # local name -> node name
        self.counters: dict[str, int] = {}
        # a group's `names:` (its items numbered as nn.Sequential numbers them): how an item without
        # a name of its own is named, and how many were named so far
        self.pattern, self.position = pattern, 0

    @functools.cached_property
    def prefixes(self) -> int:
        """The characters of this scope's and its parents' prefixes, which every layer name here repeats."""
        return len(self.prefix) + (self.parent.prefixes if self.parent else 0)

    def auto_name(self, kind: str) -> str:
        """The name of an item without one: `kind_N` (N counting per kind from 1), or in a group with
        `names:`, the pattern at the item's position."""
        if self.pattern is not None:
            self.position += 1
            return copy_name(self.pattern, self.position - 1)
        self.counters[kind] = self.counters.get(kind, 0) + 1
        return f"{kind}_{self.counters[kind]}"

    def chain(self) -> Iterator[Scope]:
        """This scope and those around it, innermost first."""
        scope: Scope | None = self
        while scope is not None:
            yield scope
            scope = scope.parent


def copy_name(pattern: str, index: int) -> str:
    """A `names:` pattern at a 0-based index: {i} is the index, {n} the 1-based number."""
    return pattern.replace("{i}", str(index)).replace("{n}", str(index + 1))


class State:
    """What the parts of an expansion share: the nodes, blocks and names made so far, the memos, and
    the budgets (every limit is checked here, by one of the methods below)."""

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
        self.literal: dict[tuple, Layer] = {}  # layers written with literal ints and names, by what is written
        self.work = 0
        self.nesting = 0
        self.name_chars = 0
        # the outermost scope level a name was found at since it was last reset (see repeat)
        self.reached = UNREACHED

    # -- budgets

    def spend(self, loc: Loc, scope: Scope):
        self.work += 1
        if self.work > MAX_WORK:
            raise SpecError(
                f"the spec takes more than {MAX_WORK:,} steps to expand (blocks, repeats and skipped "
                f"layers count; a runaway repeat?); refusing to analyse it",
                loc,
                context=scope.context,
            )

    def enter(self, loc: Loc, scope: Scope):
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise SpecError(
                f"blocks, groups and repeats nest more than {MAX_NESTING} deep here; refusing to analyse it",
                loc,
                context=scope.context,
            )

    def room_for_a_layer(self, entry: Entry, scope: Scope):
        if len(self.nodes) >= MAX_LAYERS:
            raise SpecError(
                f"the spec expands to more than {MAX_LAYERS:,} layers (a runaway repeat?); refusing to analyse it",
                entry.loc,
                context=scope.context,
            )

    def room_for_repeats(self, entry: Entry, scope: Scope, count: int):
        """Refused before expanding: this many repetitions can never fit the budgets."""
        too_many_layers = entry.kind in REGISTRY and count > MAX_LAYERS - len(self.nodes)
        if too_many_layers or count > MAX_WORK - self.work:
            limit = f"{MAX_LAYERS:,} layers" if too_many_layers else f"{MAX_WORK:,} steps"
            raise SpecError(
                f"'repeat: {count:,}' expands the spec to more than {limit} (a runaway repeat?); "
                f"refusing to analyse it",
                entry.loc,
                context=scope.context,
            )

    def room_for_reads(self, reads: int, what: str, loc: Loc, scope: Scope):
        """Refused before expanding: layers that read this many tensors in all can never fit the budget."""
        if reads > MAX_WORK - self.work:
            raise SpecError(
                f"{what} makes layers that read {reads:,} tensors in all, more than the {MAX_WORK:,} steps a spec "
                "may take to expand (a runaway repeat?); refusing to analyse it",
                loc,
                context=scope.context,
            )

    def room_for_a_name(self, full: str, loc: Loc, scope: Scope):
        if len(full) > MAX_FULL_NAME:
            from ..escape import cut

            raise SpecError(
                f"the hierarchical name {cut(full, 60)} is {len(full):,} characters long; at most "
                f"{MAX_FULL_NAME} are allowed",
                loc,
                context=scope.context,
            )

    def count_name(self, full: str, entry: Entry, scope: Scope):
        """A leaf's name and its enclosing blocks' names, as the JSON and tables will print them."""
        self.name_chars += len(full) + scope.prefixes
        if self.name_chars > MAX_NAME_CHARS:
            raise SpecError(
                f"the layer names come to more than {MAX_NAME_CHARS:,} characters (long names "
                "repeated many times?); refusing to analyse it",
                entry.loc,
                context=scope.context,
            )

    def fits(self, layers: int, work: int, name_chars: int) -> bool:
        """Whether this much more stays within every budget (a stamped repetition asks)."""
        return (
            len(self.nodes) + layers <= MAX_LAYERS
            and self.work + work <= MAX_WORK
            and self.name_chars + name_chars <= MAX_NAME_CHARS
        )

    if TYPE_CHECKING:  # what each part offers the others (naming, building, wiring, repeats, stamping, entries)

        def resolve(self, ref, scope: Scope, loc: Loc, in_shape: bool = False) -> str: ...
        def define(self, scope: Scope, local: str, full: str, loc: Loc) -> None: ...
        def leaf_name(self, entry: Entry, cls: type[Layer], scope: Scope, local) -> str: ...
        def sub(self, value, scope: Scope, loc: Loc) -> Any: ...
        def shape(self, name: str, ref: str, loc: Loc, scope: Scope) -> tuple[int, ...]: ...
        def meta(self, entry: Entry, key: str, scope: Scope, default=None) -> Any: ...
        def build(self, entry: Entry, cls: type[Layer], scope: Scope, index: int, full: str, overrides) -> Layer: ...
        def sources(self, entry: Entry, scope: Scope, current: list[str]) -> list[str]: ...
        def wire(self, entry: Entry, cls: type[Layer], scope: Scope, sources, index: int, full: str) -> list[str]: ...
        def freeze(self, entry: Entry, scope: Scope, label: str) -> bool: ...
        def tie(self, entry: Entry, cls: type[Layer], scope: Scope, label: str) -> str | None: ...
        def repeat(self, entry: Entry, scope: Scope, sources, local, count) -> list[str]: ...
        def stamp(self, stamp, scope: Scope, local: str, sources: list[str]) -> list[str] | None: ...
        def expand(self, entries: list[Entry], scope: Scope, current: list[str]) -> list[str]: ...
        def one(self, entry: Entry, scope: Scope, sources, local, overrides) -> list[str]: ...
        def block(self, entry: Entry, definition: BlockDef, scope: Scope, sources, local, overrides) -> list[str]: ...
