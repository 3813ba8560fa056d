"""Spec -> Report. Pure: no I/O, no printing."""

from __future__ import annotations

from .errors import ShapeError, SpecError
from .graph import build_graph
from .layers.base import DTYPE_BYTES, fmt_shape
from .report import BlockRow, LayerRow, Report, Totals
from .spec import Spec, load_spec


def analyze(spec: Spec | str) -> Report:
    """Analyse a Spec (or the path of a spec file) into a Report. Raises SpecError on bad input."""
    if isinstance(spec, str):
        spec = load_spec(spec)
    graph = build_graph(spec)
    shapes: dict[str, tuple[int, ...]] = dict(spec.inputs)
    rows: list[LayerRow] = []
    paths = _enclosing_blocks(graph)
    for node in graph.nodes:
        in_shapes = [shapes[name] for name in node.inputs]
        layer = node.layer
        try:
            out = layer.output_shape(in_shapes)
            counts = layer.params(in_shapes)
            macs = layer.macs(in_shapes, out) * spec.batch
        except ShapeError as e:
            given = ", ".join(f"{name} {fmt_shape(s)}" for name, s in zip(node.inputs, in_shapes))
            raise SpecError(str(e), node.loc, layer=node.label, context=(f"input: {given}",) + node.context) from None
        shapes[node.name] = out
        itemsize = DTYPE_BYTES[getattr(layer, "dtype", None) or spec.dtype]
        trainable = 0 if node.frozen else counts.params
        rows.append(LayerRow(
            index=node.index, name=node.name, kind=node.kind, path=paths[node.index],
            inputs=list(node.inputs), input_shapes=[list(s) for s in in_shapes], output_shape=list(out),
            weights=counts.weights, bias=counts.bias, params=counts.params, trainable=trainable,
            buffers=counts.buffers, macs=macs, param_bytes=counts.params * itemsize,
        ))
    blocks = [_block_row(block, rows, shapes, paths) for block in graph.blocks if block.end > block.start]
    totals = Totals(
        params=sum(r.params for r in rows), trainable=sum(r.trainable for r in rows),
        non_trainable=sum(r.params - r.trainable for r in rows), weights=sum(r.weights for r in rows),
        bias=sum(r.bias for r in rows), buffers=sum(r.buffers for r in rows), macs=sum(r.macs for r in rows),
        param_bytes=sum(r.param_bytes for r in rows),
    )
    return Report(
        name=spec.name, inputs={k: list(v) for k, v in spec.inputs.items()}, batch=spec.batch, dtype=spec.dtype,
        layers=rows, blocks=blocks, totals=totals,
        outputs={name: list(shapes[name]) for name in graph.outputs}, source=spec.source,
    )


def _enclosing_blocks(graph) -> list[list[str]]:
    paths: list[list[str]] = [[] for _ in graph.nodes]
    for block in graph.blocks:  # blocks are listed outermost first
        for i in range(block.start, block.end):
            paths[i].append(block.name)
    return paths


def _block_row(block, rows, shapes, paths) -> BlockRow:
    inside = rows[block.start:block.end]
    last = inside[-1]
    return BlockRow(
        name=block.name, kind=block.kind, depth=block.depth, first=block.start, last=block.end - 1,
        path=paths[block.start][:paths[block.start].index(block.name)],
        inputs=list(block.inputs), input_shapes=[list(shapes[n]) for n in block.inputs],
        output_shape=last.output_shape,
        **{key: sum(getattr(r, key) for r in inside)
           for key in ("weights", "bias", "params", "trainable", "buffers", "macs", "param_bytes")},
    )
