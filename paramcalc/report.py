"""The rows and totals of an analysis (see analysis.py), and their JSON contract (schema_version 1).

Shapes are per sample, channels first; MACs are multiplied by the spec's batch.
"""

from __future__ import annotations

from dataclasses import field

from .values import reader, value_class

SCHEMA_VERSION = 1

CONVENTIONS = {
    "shapes": "per sample, channels first; the batch dimension is not shown",
    "dims": "dim arguments count as in PyTorch, the batch being dim 0",
    "params": "weights + bias, as PyTorch's sum(p.numel() for p in model.parameters()); a tied (shared) "
    "weight is counted once in totals, by the layer that defines it",
    "active_params": "params a token uses: all but the num_experts − top_k routed experts of each mixture of "
    "experts it skips (embeddings and heads in full); equal to params without experts",
    "buffers": "as sum(b.numel() for b in model.buffers()), e.g. BatchNorm running stats and num_batches_tracked",
    "memory": "activation_bytes: each layer's output at the batch and dtype; saved_bytes: what autograd keeps "
    "for backward in training (CUDA kernels, flash attention), each tensor counted once, by the first "
    "layer keeping it; peak_activation_bytes: inference, each tensor freed after its last reader",
    "macs": "multiply-accumulates of convolutions and linear layers, bias adds, normalisation, pooling "
    "and activations excluded, multiplied by batch; torchvision's GFLOPS column uses this convention",
}

# The counts every row carries, in their JSON order; a block row sums them over its layers.
COUNT_FIELDS = ("weights", "bias", "params", "trainable", "buffers", "macs", "param_bytes", "shared", "active_params")


def row_dict(row) -> dict:
    """A row's fields as a dict, by shallow reads: the values (ints, names, shape lists) are the
    row's own, not copies, as JSON needs nothing more (copy before changing them)."""
    names, values = reader(type(row))
    return dict(zip(names, values(row)))


def _dicts(rows) -> list[dict]:
    return [row_dict(row) for row in rows]


# Rows are values: nothing changes them once the analysis returns them. They are not declared
# frozen, as a frozen dataclass's __init__ costs four times as much (a call per field), and slots
# keep 100,000 rows without a dict each.
@value_class(slots=True)
class LayerRow:
    """One leaf layer: what it reads, its output shape and its counts."""

    index: int
    name: str
    kind: str
    path: list[str]  # enclosing blocks, outermost first
    inputs: list[str]
    input_shapes: list[list[int]]
    output_shape: list[int]
    weights: int
    bias: int
    params: int
    trainable: int
    buffers: int
    macs: int
    param_bytes: int
    shared: int = 0  # weights also counted in the layer named by tied_to
    tied_to: str | None = None
    activation_bytes: int = 0  # the output tensor, at the batch and dtype
    saved_bytes: int = 0  # what it adds to the tensors autograd keeps for backward (training)

    receptive_field: dict | None = None  # see paramcalc/receptive.py; null without spatial dims
    active_params: int = 0  # params a token uses: all but a mixture's unrouted experts

    def __init__(
        self,
        index,
        name,
        kind,
        path,
        inputs,
        input_shapes,
        output_shape,
        weights,
        bias,
        params,
        trainable,
        buffers,
        macs,
        param_bytes,
        shared=0,
        tied_to=None,
        activation_bytes=0,
        saved_bytes=0,
        receptive_field=None,
        active_params=0,
    ):
        self.index = index
        self.name = name
        self.kind = kind
        self.path = path
        self.inputs = inputs
        self.input_shapes = input_shapes
        self.output_shape = output_shape
        self.weights = weights
        self.bias = bias
        self.params = params
        self.trainable = trainable
        self.buffers = buffers
        self.macs = macs
        self.param_bytes = param_bytes
        self.shared = shared
        self.tied_to = tied_to
        self.activation_bytes = activation_bytes
        self.saved_bytes = saved_bytes
        self.receptive_field = receptive_field
        self.active_params = active_params


@value_class(slots=True)
class BlockRow:
    """A block, group, repeat or composite kind: the sums of its leaf layers."""

    name: str
    kind: str  # the block's name, "NAME ×N" for a repeat, "group" for layers: [...]
    depth: int
    first: int  # index of its first and last leaf layer
    last: int
    path: list[str]
    inputs: list[str]
    input_shapes: list[list[int]]
    output_shape: list[int]
    weights: int
    bias: int
    params: int
    trainable: int
    buffers: int
    macs: int
    param_bytes: int
    shared: int = 0
    saved_bytes: int = 0  # the sum of its layers'
    active_params: int = 0

    def __init__(
        self,
        name,
        kind,
        depth,
        first,
        last,
        path,
        inputs,
        input_shapes,
        output_shape,
        weights,
        bias,
        params,
        trainable,
        buffers,
        macs,
        param_bytes,
        shared=0,
        saved_bytes=0,
        active_params=0,
    ):
        self.name = name
        self.kind = kind
        self.depth = depth
        self.first = first
        self.last = last
        self.path = path
        self.inputs = inputs
        self.input_shapes = input_shapes
        self.output_shape = output_shape
        self.weights = weights
        self.bias = bias
        self.params = params
        self.trainable = trainable
        self.buffers = buffers
        self.macs = macs
        self.param_bytes = param_bytes
        self.shared = shared
        self.saved_bytes = saved_bytes
        self.active_params = active_params


@value_class  # a value, like the rows (see LayerRow)
class Totals:
    """The network's counts; a tied weight is counted once."""

    params: int
    trainable: int
    non_trainable: int
    weights: int
    bias: int
    buffers: int
    macs: int
    param_bytes: int
    # None when the analysis was asked for no memory model (a check that shows no memory)
    saved_bytes: int | None = 0  # all tensors autograd keeps for backward, each once
    peak_activation_bytes: int | None = 0  # inference: the most activation bytes alive at once
    active_params: int = 0  # per token: params less the routed experts a token does not use

    def __init__(
        self,
        params,
        trainable,
        non_trainable,
        weights,
        bias,
        buffers,
        macs,
        param_bytes,
        saved_bytes=0,
        peak_activation_bytes=0,
        active_params=0,
    ):
        self.params = params
        self.trainable = trainable
        self.non_trainable = non_trainable
        self.weights = weights
        self.bias = bias
        self.buffers = buffers
        self.macs = macs
        self.param_bytes = param_bytes
        self.saved_bytes = saved_bytes
        self.peak_activation_bytes = peak_activation_bytes
        self.active_params = active_params


@value_class  # a value, like the rows (see LayerRow)
class Report:
    """A network's analysis: its leaf layers, its blocks and its totals."""

    name: str
    inputs: dict[str, list[int]]
    batch: int
    dtype: str
    layers: list[LayerRow]
    blocks: list[BlockRow]
    totals: Totals
    outputs: dict[str, list[int]]  # name -> shape; the last is the main output
    source: str = ""
    conventions: dict[str, str] = field(default_factory=lambda: dict(CONVENTIONS))
    warnings: list = field(default_factory=list)  # SpecWarning: legal but probably unintended

    def __init__(
        self, name, inputs, batch, dtype, layers, blocks, totals, outputs, source="", conventions=None, warnings=None
    ):
        self.name = name
        self.inputs = inputs
        self.batch = batch
        self.dtype = dtype
        self.layers = layers
        self.blocks = blocks
        self.totals = totals
        self.outputs = outputs
        self.source = source
        self.conventions = dict(CONVENTIONS) if conventions is None else conventions
        self.warnings = [] if warnings is None else warnings

    @property
    def output_shape(self) -> list[int]:
        return list(self.outputs.values())[-1]

    @property
    def input_shape(self) -> list[int]:
        return next(iter(self.inputs.values()))

    def rows_to_depth(self, depth: int | None) -> list:
        """The rows a table shows. Without a depth, every leaf layer. With one, a tree as torchinfo
        draws it: the blocks down to `depth`, each with its summed counts, the deepest ones
        collapsed, and the layers outside them."""
        if not depth:
            return list(self.layers)
        by_name = {b.name: b for b in self.blocks}
        rows: list = []
        shown: set[str] = set()
        for row in self.layers:
            for block in row.path[:depth]:
                if block not in shown:
                    shown.add(block)
                    rows.append(by_name[block])
            if len(row.path) < depth:
                rows.append(row)
        return rows

    def to_dict(self, rows=None) -> dict:
        """The JSON contract. Keys are only ever added within a schema_version. A list of rows
        becomes a list of dicts by shallow reads, or what `rows` makes of it (the JSON writer reads
        the fields itself)."""
        rows = rows or _dicts
        out = {
            "schema_version": SCHEMA_VERSION,
            "name": self.name,
            "input_shape": self.input_shape,
        }
        if len(self.inputs) > 1:
            out["inputs"] = self.inputs
        out |= {
            "batch": self.batch,
            "dtype": self.dtype,
            "conventions": self.conventions,
            "layers": rows(self.layers),
            "blocks": rows(self.blocks),
            "totals": row_dict(self.totals),
            "output_shape": self.output_shape,
        }
        if len(self.outputs) > 1:
            out["outputs"] = self.outputs
        if self.warnings:
            out["warnings"] = [w.to_dict() for w in self.warnings]
        return out
