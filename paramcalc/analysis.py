"""Spec -> Analysis, the one object every feature reads. Pure: no I/O, no printing.

An Analysis holds what a spec comes to: its Report (rows, blocks, totals: what every output format
shows and the JSON contract), the Layer of every row (what memory, export and verify ask further
questions of), the expanded graph and every tensor's shape. `paramcalc.analyze` returns only the
Report; `paramcalc.Analysis.of(spec)` keeps the rest.
"""

from __future__ import annotations

import os
from dataclasses import replace
from itertools import accumulate
from operator import attrgetter

from .errors import ShapeError, SpecError
from .graph import Graph, build_graph, unused_outputs
from .layers import Layer
from .layers.base import DTYPE_BYTES, MAX_ELEMENTS, Context, fmt_shape, prod
from .layers.linear import Embedding
from .receptive import describe, input_field, through
from .report import COUNT_FIELDS, BlockRow, LayerRow, Report, Totals
from .spec import Spec, load_spec


class Analysis:
    """A spec analysed: `Analysis.of(spec or path)`.

    report: the rows, blocks and totals (what is shown; the JSON contract).
    layers: the Layer of every row of report.layers, in the same order.
    graph:  the expanded network: leaf nodes (with their spec locations) and blocks (with arguments).
    shapes: every tensor's per-sample shape by name: inputs, layers, composite kinds.
    spec:   the spec's header (name, inputs, batch, dtype, source); its entries are dropped once the
            graph is built, as those of a 100,000-layer file take more memory than its report.

    For what shows totals only: without `receptive_fields` the rows' fields are None; without
    `activations` (the memory model) the memory totals are None and the rows' memory fields 0; with
    `totals_only` the report has no rows or blocks and `layers` is empty (what `check` shows: its
    totals, outputs and warnings), neither receptive fields nor the memory model being asked for.
    """

    __slots__ = ("report", "layers", "graph", "shapes", "spec")

    def __init__(self, report: Report, layers: list[Layer], graph: Graph, shapes: dict, spec: Spec):
        self.report, self.layers, self.graph, self.shapes, self.spec = report, layers, graph, shapes, spec

    @classmethod
    def of(
        cls,
        spec: Spec | str | os.PathLike,
        *,
        batch: int | None = None,
        receptive_fields: bool = True,
        activations: bool = True,
        totals_only: bool = False,
    ) -> Analysis:
        """The analysis of a Spec, or of the spec file at a path (`-`: stdin), at `batch` if given
        (else the spec's). Raises SpecError on bad input; never prints."""
        # Handed on without a name left holding it, so that a spec only this call holds (read here, or
        # `Analysis.of(load_spec(path))`) is freed once its graph is built: the entries of a
        # 100,000-layer file take more memory than its report. (A method, not the class called: a
        # class call holds its arguments until __init__ returns.)
        held = [spec if isinstance(spec, Spec) else load_spec(os.fspath(spec))]
        del spec
        if batch is not None:
            held = [replace(held.pop(), batch=batch)]
        if totals_only and (receptive_fields or activations):
            raise ValueError("totals_only leaves no rows for receptive fields or the memory model")
        builder = _Builder(held.pop(), receptive_fields, totals_only)
        analysis = cls(builder.run(), builder.layers, builder.graph, builder.shapes, builder.spec)
        del builder  # its memos, before the memory model makes its own
        if activations:
            analysis._add_memory()
        return analysis

    def token_inputs(self) -> dict[str, int]:
        """The network inputs that are token ids, each with the vocabulary that bounds it: the
        smallest table of the embeddings reading it. (See `token_inputs` below.)"""
        return token_inputs(self.report, self.layers)

    def _add_memory(self) -> None:
        """Each row's activation and saved bytes, and the memory totals, at the spec's batch and dtype
        (CUDA, flash attention). The memory model reads the finished report, so they are set
        afterwards, once, while the report is still this analysis's own."""
        from .activations import activations

        report = self.report
        result = activations(report, self.layers, Context(self.spec.batch), self.spec.dtype)
        report.totals.saved_bytes, report.totals.peak_activation_bytes = result.saved_total, result.peak
        rows = report.layers
        for row, a, s in zip(rows, result.activation_bytes, result.saved_bytes):
            row.activation_bytes, row.saved_bytes = a, s
        if report.blocks:
            saved = [0, *accumulate(r.saved_bytes for r in rows)]
            for b in report.blocks:
                b.saved_bytes = saved[b.last + 1] - saved[b.first]


def token_inputs(report: Report, layers: list[Layer]) -> dict[str, int]:
    """The one rule for which network inputs are token ids (int64, below a vocabulary) rather than
    values: those an embedding reads. Each maps to the smallest table reading it, so that ids drawn
    below it are valid for all. `layers`: the Layer of every row of `report.layers`."""
    tokens: dict[str, int] = {}
    inputs = report.inputs
    for row, layer in zip(report.layers, layers):
        if isinstance(layer, Embedding):
            for name in row.inputs:
                if name in inputs:
                    tokens[name] = min(tokens.get(name, layer.num), layer.num)
    return tokens


class _Builder:
    """Walks the graph once, making the rows (and measuring each distinct layer and input shape once)."""

    def __init__(self, spec: Spec, receptive_fields: bool = True, totals_only: bool = False):
        self.graph = build_graph(spec)
        # Totals only: each leaf's counts, in COUNT_FIELDS order, summed at the end, instead of a row.
        # A tie is checked against the row of the layer it shares, so a spec with one has rows.
        self.totals_only = totals_only
        self.counts: list[tuple] | None = [] if totals_only and not any(n.tie for n in self.graph.nodes) else None
        # Its header: the entries are done with once the graph is built, and those of a 100,000-layer
        # file take more memory than its report.
        self.spec = replace(spec, layers=[], blocks={})
        self.shapes: dict[str, tuple[int, ...]] = dict(spec.inputs)
        self.rows: list[LayerRow] = []
        self.by_name: dict[str, int] = {}  # row index, for ties: filled when a tie asks
        self.blocks: list[BlockRow] = []
        self.layers: list[Layer] = []  # the Layer of every row
        self.measured: dict[tuple, tuple] = {}  # (layer, *input shapes) -> output shape, counts, MACs
        self.lists: dict[tuple, list] = {}  # one list per distinct shape, path or list of shapes
        self.running: dict[str, list[int]] = {}  # key -> running sums over the rows, once all are made
        # each tensor's receptive field, by name; None when not asked for
        self.fields = {name: input_field(shape) for name, shape in spec.inputs.items()} if receptive_fields else None
        self.described: dict[tuple, dict | None] = {}

    def run(self) -> Report:
        graph, spec = self.graph, self.spec
        whole = self.summed() if self.counts is not None else self.rows_and_blocks()
        if self.totals_only:  # (rows made for a tie are not shown)
            self.rows, self.blocks, self.layers = [], [], []
        tied = whole["shared"]  # a tied weight is counted once, in the layer that owns it
        totals = Totals(
            params=whole["params"] - tied,
            trainable=whole["trainable"],
            non_trainable=whole["params"] - tied - whole["trainable"],
            weights=whole["weights"] - tied,
            bias=whole["bias"],
            buffers=whole["buffers"],
            macs=whole["macs"],
            param_bytes=whole["param_bytes"],
            saved_bytes=None,  # the memory model's: see Analysis._add_memory
            peak_activation_bytes=None,
            active_params=whole["active_params"] - tied,
        )
        return Report(
            name=spec.name,
            inputs={k: list(v) for k, v in spec.inputs.items()},
            batch=spec.batch,
            dtype=spec.dtype,
            layers=self.rows,
            blocks=self.blocks,
            totals=totals,
            outputs={name: list(self.shapes[name]) for name in graph.outputs},
            source=spec.source,
            warnings=unused_outputs(graph),
        )

    def summed(self) -> dict[str, int]:
        """Totals only: every leaf measured and its counts summed, without rows."""
        for node in self.graph.nodes:
            if node.layer.composite:
                self.composite(node, None)
            else:
                self.count(node, node.layer, node.name, node.inputs)
        assert self.counts is not None
        return dict(zip(COUNT_FIELDS, map(sum, zip(*self.counts)))) if self.counts else dict.fromkeys(COUNT_FIELDS, 0)

    def rows_and_blocks(self) -> dict[str, int]:
        """Every leaf's row and every block's, and the counts summed over the rows."""
        graph = self.graph
        paths = _paths(graph, self.interned)
        first_row = []
        composites: list = []  # (their BlockRows: composite returns one where given a path)
        for node in graph.nodes:
            first_row.append(len(self.rows))
            if node.layer.composite:
                composites.append(self.composite(node, paths[node.index]))
            else:
                self.leaf(node, node.layer, node.name, node.inputs, paths[node.index])
        first_row.append(len(self.rows))
        if graph.blocks:  # (a block's sums are read from these; a spec without blocks has no use for them)
            self.running = {key: [0, *accumulate(map(attrgetter(key), self.rows))] for key in COUNT_FIELDS}
        for block in graph.blocks:
            if block.end > block.start:
                self.blocks.append(
                    self.block_row(
                        block.name,
                        block.kind,
                        block.inputs,
                        first_row[block.start],
                        first_row[block.end] - 1,
                        paths[block.start],
                    )
                )
        self.blocks += composites
        whole = {key: running[-1] for key, running in self.running.items()} if self.running else _sums(self.rows)
        # 8 running sums of 100,000 rows take more memory than the rows' memory model
        self.running, self.described = {}, {}
        return whole

    def fail(self, node, error, inputs, in_shapes):
        given = ", ".join(f"{name} {fmt_shape(s)}" for name, s in zip(inputs, in_shapes))
        raise SpecError(str(error), node.loc, layer=node.label, context=(f"input: {given}",) + node.context) from None

    def leaf(self, node, layer, name, inputs, path):
        # (most layers read one input: a list of it, without a comprehension's call)
        in_shapes = [self.shapes[inputs[0]]] if len(inputs) == 1 else [self.shapes[n] for n in inputs]
        try:
            out, counts, macs, reach, shown_inputs, shown_output, param_bytes, _ = self.measure(layer, in_shapes)
            tied = self.tied_weight(node, layer, in_shapes) if node.tie else 0
            fields = self.fields
            if fields is None:
                field = None
            else:
                in_fields = [fields[inputs[0]]] if len(inputs) == 1 else [fields[n] for n in inputs]
                field = through(reach, in_fields, in_shapes, out)
        except ShapeError as e:
            self.fail(node, e, inputs, in_shapes)
        own = params = counts.params
        if tied:
            own -= tied
            param_bytes = own * DTYPE_BYTES[layer.dtype or self.spec.dtype]
        trainable = 0 if node.frozen or not layer.requires_grad else own
        active_params = params - layer.inactive_params(in_shapes) if layer.routed else params
        self.shapes[name] = out
        # rows of one field and output shape (a convolution's, then its norm's and activation's) share
        # one description; fields are kept alive by self.fields, so their ids stay theirs
        key = (id(field), out)
        if key in self.described:
            described = self.described[key]
        else:
            described = self.described[key] = describe(field, out)
        # in LayerRow's field order (positional: a keyword each costs more than the row's other work)
        row = LayerRow(
            len(self.rows),  # index
            name,
            layer.kind,
            path,
            inputs,  # the graph's list, not changed after
            shown_inputs,
            shown_output,
            counts.weights,
            counts.bias,
            params,
            trainable,
            counts.buffers,
            macs,
            param_bytes,
            tied,  # shared
            node.tie if tied else None,  # tied_to
            0,  # activation_bytes and saved_bytes: set by the memory model
            0,
            described,  # receptive_field
            active_params,
        )
        self.rows.append(row)
        self.layers.append(layer)
        if fields is not None:
            fields[name] = field

    def count(self, node, layer, name, inputs):
        """Totals only: a leaf's counts, as its row would hold them (there is no tie: see __init__)."""
        in_shapes = [self.shapes[inputs[0]]] if len(inputs) == 1 else [self.shapes[n] for n in inputs]
        try:
            measured = self.measure(layer, in_shapes)
        except ShapeError as e:
            self.fail(node, e, inputs, in_shapes)
        self.shapes[name] = measured[0]
        counts = measured[7]
        self.counts.append(counts if not node.frozen else (*counts[:3], 0, *counts[4:]))  # (trainable: 0)

    def interned(self, values) -> list:
        """One list for equal shapes (or paths, or lists of shapes), however many rows show it:
        the rows of a repeated block hold a few lists, not three each. Rows are values: their
        lists are never changed."""
        key = tuple(values)
        found = self.lists.get(key)
        if found is None:
            found = self.lists[key] = list(values)
        return found

    def interned_shapes(self, shapes) -> list[list]:
        key = tuple(map(tuple, shapes))
        found = self.lists.get(key)
        if found is None:
            found = self.lists[key] = [self.interned(s) for s in shapes]
        return found

    def measure(self, layer, in_shapes):
        """What a layer's row shows and the analysis needs that follows from its fields and input
        shapes alone: its output shape, counts, MACs (at the batch), how it reads its input (its
        reach, for receptive fields), the shapes as shown (None for totals only), its parameter bytes
        and its counts as an untied, unfrozen row holds them (in COUNT_FIELDS order). Identical layers
        are one object (Layer.build), so a repeated block's layers are measured once per input shape."""
        key = (layer, tuple(in_shapes[0])) if len(in_shapes) == 1 else (layer, *map(tuple, in_shapes))
        result = self.measured.get(key)
        if result is None:
            out = layer.output_shape(in_shapes)
            counts = layer.params(in_shapes)
            if max(prod(out), counts.params, counts.buffers) >= MAX_ELEMENTS:
                raise ShapeError(
                    f"makes a tensor of more than 2^63 elements (output {fmt_shape(out)}), more than PyTorch can hold"
                )
            shapes = [tuple(s) for s in in_shapes]
            result = self.measured[key] = (
                out,
                counts,
                macs := layer.macs(in_shapes, out) * self.spec.batch,
                layer.reach(shapes, tuple(out))
                if self.fields is not None and (len(out) >= 2 or shapes == [tuple(out)])
                else None,
                None if self.counts is not None else self.interned_shapes(in_shapes),
                None if self.counts is not None else self.interned(out),
                param_bytes := counts.params * DTYPE_BYTES[layer.dtype or self.spec.dtype],
                (
                    counts.weights,
                    counts.bias,
                    counts.params,
                    counts.params if layer.requires_grad else 0,  # trainable
                    counts.buffers,
                    macs,
                    param_bytes,
                    0,  # shared
                    counts.params - layer.inactive_params(in_shapes) if layer.routed else counts.params,
                ),
            )
        return result

    def tied_weight(self, node, layer, in_shapes) -> int:
        """A tied layer's weight must have exactly the shape of the weight it shares."""
        for i in range(len(self.by_name), len(self.rows)):  # most specs have no tie: no index of their rows
            self.by_name[self.rows[i].name] = i
        if node.tie not in self.by_name:
            raise ShapeError(f"tie: '{node.tie}' is not a layer with a weight above this one")
        owner_row, owner = self.rows[self.by_name[node.tie]], self.layers[self.by_name[node.tie]]
        if not owner.has_weight():
            raise ShapeError(f"tie: '{node.tie}' ({owner.kind}) has no weight to share")
        mine = layer.weight_shape(in_shapes)
        theirs = owner.weight_shape([tuple(s) for s in owner_row.input_shapes])
        assert mine is not None and theirs is not None  # both kinds have a weight (checked here and in graph.tie)
        if tuple(mine) != tuple(theirs):
            raise ShapeError(f"tie: this weight is {list(mine)}, but '{node.tie}' has {list(theirs)}")
        return prod(mine)

    def composite(self, node, path) -> BlockRow | None:
        """A kind made of inner layers (a transformer layer): one row each, and a block over them."""
        in_shapes = [self.shapes[n] for n in node.inputs]
        try:
            node.layer.output_shape(in_shapes)
            inner = node.layer.inner(in_shapes)
        except ShapeError as e:
            self.fail(node, e, node.inputs, in_shapes)
        local = dict(zip(("input", "memory"), node.inputs))
        start = len(self.rows)
        inner_path = None if path is None else self.interned((*path, node.name))  # (None: totals only)
        full = node.name
        for part in inner:
            full = f"{node.name}.{part.name}"
            if path is None:
                self.count(node, part.layer, full, [local[i] for i in part.inputs])
            else:
                self.leaf(node, part.layer, full, [local[i] for i in part.inputs], inner_path)
            local[part.name] = full
        self.shapes[node.name] = self.shapes[full]  # the last part's output
        if self.fields is not None:
            self.fields[node.name] = self.fields[full]
        return (
            None if path is None else self.block_row(node.name, node.kind, node.inputs, start, len(self.rows) - 1, path)
        )

    def block_row(self, name, kind, inputs, first, last, path) -> BlockRow:
        own_path = self.interned(path[: path.index(name)] if name in path else path)
        return BlockRow(
            name=name,
            kind=kind,
            depth=len(own_path) + 1,
            first=first,
            last=last,
            path=own_path,
            inputs=inputs,
            input_shapes=self.interned_shapes([self.shapes[n] for n in inputs]),
            output_shape=self.rows[last].output_shape,
            # A block's sums are differences of running sums: nested and repeated blocks cost
            # nothing per layer inside them.
            **(
                {key: running[last + 1] - running[first] for key, running in self.running.items()}
                if self.running
                else _sums(self.rows[first : last + 1])
            ),
        )


def _paths(graph: Graph, interned) -> list[list[str]]:
    """Each node's enclosing blocks, outermost first (one list per distinct path, from `interned`).
    Blocks nest, so a sweep with a stack of open blocks finds them; a path changes only where a
    block starts or ends, so the sweep goes from one such place to the next, with one list for the
    nodes between."""
    blocks = sorted(graph.blocks, key=lambda b: (b.start, -b.end))  # (stable: outermost first)
    paths: list[list[str]] = []
    open_blocks: list = []
    following = 0  # blocks[following] is the next to open
    i, end = 0, len(graph.nodes)
    while i < end:
        while open_blocks and open_blocks[-1].end <= i:
            open_blocks.pop()
        while following < len(blocks) and blocks[following].start <= i:
            if blocks[following].end > i:  # (a block of no nodes encloses none)
                open_blocks.append(blocks[following])
            following += 1
        change = min(
            open_blocks[-1].end if open_blocks else end, blocks[following].start if following < len(blocks) else end
        )
        paths += [interned([block.name for block in open_blocks])] * (change - i)
        i = change
    return paths


def _sums(rows) -> dict[str, int]:
    """Each count summed over these rows."""
    return {key: sum(map(attrgetter(key), rows)) for key in COUNT_FIELDS}
