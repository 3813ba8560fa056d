"""Spec -> Report. Pure: no I/O, no printing."""

from __future__ import annotations

from .errors import ShapeError, SpecError
from .graph import build_graph
from .layers.base import DTYPE_BYTES, MAX_ELEMENTS, fmt_shape, prod
from .report import BlockRow, LayerRow, Report, Totals
from .spec import Spec, load_spec

SUMMED = ("weights", "bias", "params", "trainable", "buffers", "macs", "param_bytes", "shared")


def analyze(spec: Spec | str) -> Report:
    """Analyse a Spec (or the path of a spec file) into a Report. Raises SpecError on bad input."""
    if isinstance(spec, str):
        spec = load_spec(spec)
    return _Analysis(spec).run()


class _Analysis:
    def __init__(self, spec: Spec):
        self.spec = spec
        self.graph = build_graph(spec)
        self.shapes: dict[str, tuple[int, ...]] = dict(spec.inputs)
        self.rows: list[LayerRow] = []
        self.by_name: dict[str, tuple[LayerRow, object]] = {}   # row and its layer, for ties
        self.blocks: list[BlockRow] = []

    def run(self) -> Report:
        graph, spec = self.graph, self.spec
        paths = [[] for _ in graph.nodes]
        for block in graph.blocks:  # listed outermost first
            for i in range(block.start, block.end):
                paths[i].append(block.name)
        first_row = []
        composites = []
        for node in graph.nodes:
            first_row.append(len(self.rows))
            if hasattr(node.layer, "inner"):
                composites.append(self.composite(node, paths[node.index]))
            else:
                self.leaf(node, node.layer, node.name, node.inputs, paths[node.index])
        first_row.append(len(self.rows))
        for block in graph.blocks:
            if block.end > block.start:
                self.blocks.append(self.block_row(block.name, block.kind, block.inputs, first_row[block.start],
                                                  first_row[block.end] - 1, paths[block.start]))
        self.blocks += composites
        rows = self.rows
        totals = Totals(
            params=sum(r.params - r.shared for r in rows), trainable=sum(r.trainable for r in rows),
            non_trainable=sum(r.params - r.shared - r.trainable for r in rows),
            weights=sum(r.weights - r.shared for r in rows), bias=sum(r.bias for r in rows),
            buffers=sum(r.buffers for r in rows), macs=sum(r.macs for r in rows),
            param_bytes=sum(r.param_bytes for r in rows),
        )
        return Report(
            name=spec.name, inputs={k: list(v) for k, v in spec.inputs.items()}, batch=spec.batch, dtype=spec.dtype,
            layers=rows, blocks=self.blocks, totals=totals,
            outputs={name: list(self.shapes[name]) for name in graph.outputs}, source=spec.source,
        )

    def fail(self, node, error, inputs, in_shapes):
        given = ", ".join(f"{name} {fmt_shape(s)}" for name, s in zip(inputs, in_shapes))
        raise SpecError(str(error), node.loc, layer=node.label, context=(f"input: {given}",) + node.context) from None

    def leaf(self, node, layer, name, inputs, path):
        in_shapes = [self.shapes[n] for n in inputs]
        try:
            out = layer.output_shape(in_shapes)
            counts = layer.params(in_shapes)
            macs = layer.macs(in_shapes, out) * self.spec.batch
            shared = self.shared_weights(node, layer, in_shapes) if node.tie else 0
            if max(prod(out), counts.params, counts.buffers) >= MAX_ELEMENTS:
                raise ShapeError(f"makes a tensor of more than 2^63 elements (output {fmt_shape(out)}), "
                                 "more than PyTorch can hold")
        except ShapeError as e:
            self.fail(node, e, inputs, in_shapes)
        own = counts.params - shared
        trainable = 0 if node.frozen or not getattr(layer, "requires_grad", True) else own
        itemsize = DTYPE_BYTES[getattr(layer, "dtype", None) or self.spec.dtype]
        row = LayerRow(
            index=len(self.rows), name=name, kind=layer.kind, path=list(path), inputs=list(inputs),
            input_shapes=[list(s) for s in in_shapes], output_shape=list(out), weights=counts.weights,
            bias=counts.bias, params=counts.params, trainable=trainable, buffers=counts.buffers, macs=macs,
            param_bytes=own * itemsize, shared=shared, tied_to=node.tie if shared else None,
        )
        self.rows.append(row)
        self.by_name[name] = (row, layer)
        self.shapes[name] = out

    def shared_weights(self, node, layer, in_shapes) -> int:
        """A tied layer's weight must have exactly the shape of the weight it shares."""
        if node.tie not in self.by_name:
            raise ShapeError(f"tie: '{node.tie}' is not a layer with a weight above this one")
        owner_row, owner = self.by_name[node.tie]
        if not hasattr(owner, "weight_shape"):
            raise ShapeError(f"tie: '{node.tie}' ({owner.kind}) has no weight to share")
        mine = layer.weight_shape(in_shapes)
        theirs = owner.weight_shape([tuple(s) for s in owner_row.input_shapes])
        if tuple(mine) != tuple(theirs):
            raise ShapeError(f"tie: this weight is {list(mine)}, but '{node.tie}' has {list(theirs)}")
        return prod(mine)

    def composite(self, node, path) -> BlockRow:
        """A kind made of inner layers (a transformer layer): one row each, and a block over them."""
        in_shapes = [self.shapes[n] for n in node.inputs]
        try:
            node.layer.output_shape(in_shapes)
            inner = node.layer.inner(in_shapes)
        except ShapeError as e:
            self.fail(node, e, node.inputs, in_shapes)
        local = dict(zip(("input", "memory"), node.inputs))
        start = len(self.rows)
        for part in inner:
            full = f"{node.name}.{part.name}"
            self.leaf(node, part.layer, full, [local[i] for i in part.inputs], [*path, node.name])
            local[part.name] = full
        self.shapes[node.name] = self.shapes[self.rows[-1].name]
        return self.block_row(node.name, node.kind, node.inputs, start, len(self.rows) - 1, path)

    def block_row(self, name, kind, inputs, first, last, path) -> BlockRow:
        inside = self.rows[first:last + 1]
        own_path = path[:path.index(name)] if name in path else list(path)
        return BlockRow(
            name=name, kind=kind, depth=len(own_path) + 1, first=first, last=last, path=own_path,
            inputs=list(inputs), input_shapes=[list(self.shapes[n]) for n in inputs],
            output_shape=inside[-1].output_shape,
            **{key: sum(getattr(r, key) for r in inside) for key in SUMMED},
        )
