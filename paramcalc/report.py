"""The result of an analysis, and its JSON contract (schema_version 1).

Shapes are per sample, channels first; MACs are multiplied by the spec's batch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

SCHEMA_VERSION = 1

CONVENTIONS = {
    "shapes": "per sample, channels first; the batch dimension is not shown",
    "dims": "dim arguments count as in PyTorch, the batch being dim 0",
    "params": "weights + bias, as PyTorch's sum(p.numel() for p in model.parameters()); a tied (shared) "
              "weight is counted once in totals, by the layer that defines it",
    "buffers": "as sum(b.numel() for b in model.buffers()), e.g. BatchNorm running stats and num_batches_tracked",
    "macs": "multiply-accumulates of convolutions and linear layers, bias adds, normalisation, pooling "
            "and activations excluded, multiplied by batch; torchvision's GFLOPS column uses this convention",
}

COUNTS = ("weights", "bias", "params", "trainable", "buffers", "macs")


@dataclass(frozen=True)
class LayerRow:
    index: int
    name: str
    kind: str
    path: list[str]                 # enclosing blocks, outermost first
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
    shared: int = 0                 # weights also counted in the layer named by tied_to
    tied_to: str | None = None
    receptive_field: dict | None = None   # see paramcalc/receptive.py; null without spatial dims


@dataclass(frozen=True)
class BlockRow:
    name: str
    kind: str                       # the block's name, "NAME ×N" for a repeat, "group" for layers: [...]
    depth: int
    first: int                      # index of its first and last leaf layer
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


@dataclass(frozen=True)
class Totals:
    params: int
    trainable: int
    non_trainable: int
    weights: int
    bias: int
    buffers: int
    macs: int
    param_bytes: int


@dataclass(frozen=True)
class Report:
    name: str
    inputs: dict[str, list[int]]
    batch: int
    dtype: str
    layers: list[LayerRow]
    blocks: list[BlockRow]
    totals: Totals
    outputs: dict[str, list[int]]   # name -> shape; the last is the main output
    source: str = ""
    conventions: dict[str, str] = field(default_factory=lambda: dict(CONVENTIONS))

    @property
    def output_shape(self) -> list[int]:
        return list(self.outputs.values())[-1]

    @property
    def input_shape(self) -> list[int]:
        return next(iter(self.inputs.values()))

    def to_dict(self) -> dict:
        """The JSON contract. Keys are only ever added within a schema_version."""
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
            "layers": [asdict(row) for row in self.layers],
            "blocks": [asdict(row) for row in self.blocks],
            "totals": asdict(self.totals),
            "output_shape": self.output_shape,
        }
        if len(self.outputs) > 1:
            out["outputs"] = self.outputs
        return out
