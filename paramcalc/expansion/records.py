"""What an expansion makes: the graph's records."""

from __future__ import annotations

from ..errors import Loc
from ..layers import Layer


# The graph's records are never compared or printed: bare classes (a dataclass costs start-up time).
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
        # (one field a line: a tuple assignment of more than three builds and unpacks a tuple, per layer)
        self.index = index
        self.name = name
        self.kind = kind
        self.layer = layer
        self.inputs = inputs
        self.loc = loc
        self.context = context
        self.frozen = frozen
        self.tie = tie  # the node whose weights this one shares

    @property
    def label(self) -> str:
        return layer_label(self.index, self.name, self.kind)


def layer_label(index: int, name: str, kind: str) -> str:
    """How messages name a layer."""
    return f"layer {index} '{name}' ({kind})"


class Block:
    """A block instance, group or repeat: a contiguous run of nodes [start, end)."""

    def __init__(self, name: str, kind: str, loc: Loc, start: int, inputs: list[str], args: dict | None = None):
        self.name, self.kind, self.loc = name, kind, loc
        self.start, self.end = start, 0  # end: set once its nodes are built
        self.inputs = inputs
        self.args = args  # a block instance's argument values (export names constructor arguments)
        self.dense = False  # a repeat with `connect: dense` (export writes its loop as DenseNet's)


class Graph:
    """The expanded network: leaf layers in execution order, and the blocks around them."""

    def __init__(self, nodes: list[Node], blocks: list[Block], outputs: list[str]):
        self.nodes, self.blocks = nodes, blocks
        self.outputs = outputs  # node names; the last is the main output
