"""Entries -> an ordered DAG of leaf layers, expanding blocks, groups and repeats.

Every node gets a hierarchical name (`layer1.0.conv1`). A node's inputs are the previous node's
output unless it says `from:`; names resolve in the innermost scope (block, group) that has them,
then outward, and may only point backwards, so file order is execution order. How: the parts in
paramcalc/expansion/ (see its __init__), put together here as _Expander.
"""

from __future__ import annotations

from .errors import Loc, SpecError, SpecWarning
from .expansion.building import Building
from .expansion.entries import Entries
from .expansion.naming import Naming
from .expansion.records import Block, Graph, Node
from .expansion.repeats import Repeats
from .expansion.stamping import Stamping
from .expansion.state import MAX_LAYERS, Scope  # (the budgets read the limits there, where tests patch them)
from .expansion.wiring import Wiring
from .layers import REGISTRY, normalize_kind
from .spec import Spec

__all__ = ["Block", "Graph", "Node", "MAX_LAYERS", "build_graph", "unused_outputs"]


class _Expander(Entries, Naming, Building, Wiring, Repeats, Stamping):
    """One spec's expansion: the parts over their one state (expansion/state.py)."""


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


def build_graph(spec: Spec) -> Graph:
    for name, definition in spec.blocks.items():
        if normalize_kind(name) in REGISTRY:
            raise SpecError(f"block '{name}' has the name of a layer kind; rename it", definition.loc)
        if name in ("repeat", "layers"):
            raise SpecError(f"'{name}' is reserved; rename the block", definition.loc)
    expander = _Expander(spec)
    top = Scope("", None, {}, ())
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
