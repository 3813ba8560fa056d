"""Memory: what a network needs to train or to run, from its Report. Pure: no I/O, no printing.

Activations follow PyTorch's autograd: each kind says what its backward keeps (Layer.saves), and a
tensor kept by several layers (a ReLU's output that is also the next convolution's input) is counted
once, by storage, as torch.autograd.graph.saved_tensors_hooks sees it. Model states follow the ZeRO
paper (Rajbhandari et al., "ZeRO: Memory Optimizations Toward Training Trillion Parameter Models", 2020):
parameters, gradients and optimizer states (with fp32 master weights in mixed precision), partitioned
across data-parallel devices by stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import SpecError, did_you_mean
from .layers.base import (
    DTYPE_BYTES,
    Context,
    Saved,
    broadcast_strides,
    contiguous_strides,
    elementwise_strides,
    prod,
    reshape_strides,
)

# precision -> (bytes of weights, activations and gradients; of master weights; of optimizer state)
PRECISIONS = {
    "fp32": (4, 0, 4),
    "bf16": (2, 0, 2),
    "fp16": (2, 0, 2),
    "bf16-mixed": (2, 4, 4),
    "fp16-mixed": (2, 4, 4),
}
ACTIVATION_DTYPE = {
    "fp32": "float32",
    "bf16": "bfloat16",
    "fp16": "float16",
    "bf16-mixed": "bfloat16",
    "fp16-mixed": "float16",
}
# optimizer -> (state tensors per parameter, as large as it; whether it keeps a float32 `step` tensor per
# parameter tensor), as torch.optim keeps them with default arguments (momentum: SGD(momentum=0.9))
OPTIMIZERS = {
    "sgd": (0, False),
    "momentum": (1, False),
    "adam": (2, True),
    "adamw": (2, True),
    "adagrad": (1, True),
    "rmsprop": (1, True),
}
# inference weight formats: bits per element (scales and zero points of quantised formats not counted)
WEIGHT_BITS = {"fp32": 32, "bf16": 16, "fp16": 16, "fp8": 8, "int8": 8, "int4": 4}
ATTENTION = ("flash", "math")
DEVICES = ("cuda", "cpu")
STEP_BYTES = 4  # a float32 scalar tensor


@dataclass(frozen=True)
class Settings:
    train: bool = True
    batch: int | None = None  # None: the spec's
    precision: str = "fp32"
    optimizer: str = "adamw"
    zero: int = 0
    devices: int = 1
    checkpoint: bool = False
    kv_cache: int = 0  # sequence length to cache keys and values for (0: none)
    weights: str | None = None  # inference weight format (None: the precision's)
    attention: str = "flash"
    device: str = "cuda"

    def validate(self) -> None:
        """Bad combinations are bad input: a SpecError each (exit 2)."""
        for value, choices, what in (
            (self.precision, PRECISIONS, "precision"),
            (self.optimizer, OPTIMIZERS, "optimizer"),
            (self.attention, ATTENTION, "attention"),
            (self.device, DEVICES, "device"),
        ):
            if value not in choices:
                raise SpecError(
                    f"unknown {what} '{value}' (one of {', '.join(choices)})", hint=did_you_mean(value, choices)
                )
        if self.weights is not None and self.weights not in WEIGHT_BITS:
            raise SpecError(
                f"unknown weight format '{self.weights}' (one of {', '.join(WEIGHT_BITS)})",
                hint=did_you_mean(self.weights, WEIGHT_BITS),
            )
        if self.zero not in (0, 1, 2, 3):
            raise SpecError(f"zero stage must be 0, 1, 2 or 3, found {self.zero}")
        if self.devices < 1:
            raise SpecError(f"devices must be at least 1, found {self.devices}")
        if self.zero and self.devices == 1:
            raise SpecError(
                f"ZeRO stage {self.zero} partitions across devices: give --devices N (N > 1; in a budget, devices: N)"
            )
        if self.weights is not None and self.train:
            raise SpecError("a weight format (int8, int4, fp8, ...) is for inference: add --inference")
        if self.zero and not self.train:
            raise SpecError("ZeRO partitions training state: drop --zero, or train")
        if self.checkpoint and not self.train:
            raise SpecError("activation checkpointing is for training: drop --checkpoint, or train")

    def as_dict(self, batch: int) -> dict:
        return {
            "mode": "train" if self.train else "inference",
            "batch": batch,
            "precision": self.precision,
            "optimizer": self.optimizer if self.train else None,
            "zero": self.zero,
            "devices": self.devices,
            "checkpoint": self.checkpoint,
            "kv_cache": self.kv_cache,
            "weights": self.weights or ("fp32" if self.precision == "fp32" else self.precision.split("-")[0]),
            "attention": self.attention,
            "device": self.device,
        }


@dataclass(frozen=True)
class Activations:
    """Per layer, the output's bytes and what it adds to autograd's saved tensors; and the totals."""

    activation_bytes: list[int]
    saved_bytes: list[int]
    saved_total: int
    peak: int  # inference: most activation bytes alive at once


@dataclass(frozen=True)
class Memory:
    name: str
    batch: int
    settings: dict
    components: dict[str, int]
    total: int
    per_device: int
    per_device_components: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The JSON contract of `paramcalc memory` (keys only ever added). All in bytes."""
        return {
            "schema_version": 1,
            "name": self.name,
            "batch": self.batch,
            "settings": self.settings,
            "components": self.components,
            "total": self.total,
            "per_device": self.per_device,
            "per_device_components": self.per_device_components,
        }


# ---------------------------------------------------------------- activations


@dataclass
class _Storages:
    """Every tensor storage of one training step, numbered in execution order: the network's inputs,
    each layer's output (a view or an in-place layer shares its input's; a parameter has none), and
    the new tensors layers keep for backward. A view's strides say where it lies in its storage, as
    PyTorch's do: a reshape that no view can express (a permuted tensor's), or an operand a kernel must
    fold, is a copy. A new tensor is laid out row-major, or by an elementwise kernel as its inputs are."""

    nbytes: list[int] = field(default_factory=list)
    of: dict[str, int | None] = field(default_factory=dict)  # tensor name -> storage
    strides: dict[str, tuple[int, ...]] = field(default_factory=dict)  # batch dim first; absent: row-major
    reads: list[tuple[int, ...]] = field(default_factory=list)  # per layer
    kept: list[tuple[int, ...]] = field(default_factory=list)  # per layer: what its backward keeps, each once
    output_bytes: list[int] = field(default_factory=list)  # per layer
    shared: dict = field(default_factory=dict)  # Saved.shared key -> storage

    def new(self, n: int) -> int:
        self.nbytes.append(n)
        return len(self.nbytes) - 1

    def layout(self, name: str, shape, ctx: Context) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """A tensor's shape and strides, batch dim first."""
        full = (ctx.batch, *shape)
        return full, self.strides.get(name) or contiguous_strides(full)


def _storages(report, layers, ctx: Context, dtype: str) -> _Storages:
    itemsize = DTYPE_BYTES[dtype]
    sizes = {"act": itemsize, "float32": 4, "int64": 8, "bool": 1}
    tokens = {
        name
        for row in report.layers
        if row.kind in ("embedding", "embeddingbag")
        for name in row.inputs
        if name in report.inputs
    }  # token ids are int64
    st = _Storages()
    for name, shape in report.inputs.items():
        st.of[name] = st.new(ctx.batch * prod(shape) * (8 if name in tokens else itemsize))
    # A composite layer (a transformer layer) is read by its own name: its output is its last inner row's.
    last_row = {block.name: report.layers[block.last].name for block in report.blocks}
    # What a layer keeps follows from the layer and its shapes; identical layers are one object and
    # rows of equal shapes share their lists, so a repeated block's layers are asked once.
    asked: dict[tuple, Saved] = {}
    for row, layer in zip(report.layers, layers):
        out = tuple(row.output_shape)
        question = (layer, id(row.input_shapes), id(row.output_shape))
        keeps = asked.get(question)
        if keeps is None:
            keeps = asked[question] = layer.saves([tuple(s) for s in row.input_shapes], out, ctx)
        names = [n if n in st.of else last_row[n] for n in row.inputs]
        ins = [st.of[n] for n in names]
        size = 0 if keeps.parameter else ctx.batch * prod(out) * itemsize
        mine = None if keeps.parameter else ins[0] if keeps.alias else st.new(size)
        if keeps.parameter:  # no batch dim: broadcast over the batch
            st.strides[row.name] = (0, *contiguous_strides(out))
        elif keeps.alias:
            view = layer.view_strides(*st.layout(names[0], row.input_shapes[0], ctx), (ctx.batch, *out))
            if view is None:  # PyTorch copies: a new row-major tensor
                mine = st.new(size)
            elif view != contiguous_strides((ctx.batch, *out)):
                st.strides[row.name] = view
        elif layer.elementwise and not st.strides.keys().isdisjoint(names):
            layouts = [st.layout(n, shape, ctx) for n, shape in zip(names, row.input_shapes)]
            st.strides[row.name] = elementwise_strides((ctx.batch, *out), layouts)
        st.of[row.name] = mine
        st.output_bytes.append(size)
        st.reads.append(tuple(s for s in ins if s is not None))
        kept = [ins[i] for i in keeps.inputs] + ([mine] if keeps.output else [])
        kept += [st.new(n * sizes[t]) for n, t in keeps.tensors]
        for i, broadcast, folded in keeps.folded:
            copied = False  # a row-major tensor that is not broadcast folds to a view
            if names[i] in st.strides or (ctx.batch, *row.input_shapes[i]) != broadcast:
                shape, strides = st.layout(names[i], row.input_shapes[i], ctx)
                copied = reshape_strides(broadcast, broadcast_strides(shape, strides, broadcast), folded) is None
            kept.append(st.new(prod(folded) * itemsize) if copied else ins[i])
        for key, n, t in keeps.shared:
            if key not in st.shared:
                st.shared[key] = st.new(n * sizes[t])
            kept.append(st.shared[key])
        st.kept.append(tuple(dict.fromkeys(s for s in kept if s is not None)))
    return st


def activations(report, layers, ctx: Context, dtype: str) -> Activations:
    """`layers`: the Layer of every report row. A layer's saved bytes are the storages its backward
    keeps that no earlier layer kept."""
    st = _storages(report, layers, ctx, dtype)
    saved: set[int] = set()
    saved_bytes = []
    for kept in st.kept:
        added = [s for s in kept if s not in saved]
        saved.update(added)
        saved_bytes.append(sum(st.nbytes[s] for s in added))
    return Activations(st.output_bytes, saved_bytes, sum(saved_bytes), _inference_peak(report, st))


def _inference_peak(report, st: _Storages) -> int:
    """Walks the layers in order: each output is allocated (unless it is a view, in place, or a
    parameter) while its inputs are still alive; a storage is freed after its last reader; the
    network's outputs stay to the end."""
    end = len(report.layers)
    last: dict[int, int] = {}
    for i, ins in enumerate(st.reads):
        for s in ins:
            last[s] = i
    for name in report.outputs:
        if (storage := st.of.get(name)) is not None:
            last[storage] = end
    live = {s for s in (st.of[name] for name in report.inputs) if s is not None}  # every input has one
    freed: dict[int, list[int]] = {}  # layer -> the storages freed after it: read for the last time, or never read
    for s in live:
        freed.setdefault(last.get(s, 0), []).append(s)
    for s, i in last.items():
        if s not in live:
            freed.setdefault(i, []).append(s)
    current = peak = sum(st.nbytes[s] for s in live)
    for i, row in enumerate(report.layers):
        mine = st.of[row.name]
        if mine is not None and mine not in live:
            live.add(mine)
            current += st.nbytes[mine]
            if mine not in last:
                freed.setdefault(i, []).append(mine)
        peak = max(peak, current)
        for s in freed.pop(i, ()):
            if s in live:
                live.discard(s)
                current -= st.nbytes[s]
    return peak


def checkpointed(report, layers, ctx: Context, dtype: str) -> int:
    """Saved bytes with activation checkpointing (at the _segments): a checkpointed block keeps only its
    input, and its own saved tensors exist for one block at a time, while backward recomputes it.
    Layers outside those blocks keep theirs."""
    st = _storages(report, layers, ctx, dtype)
    segments = _segments(report)
    inside = {i for block in segments for i in range(block.first, block.last + 1)}
    base: set[int] = set()
    for i, kept in enumerate(st.kept):
        if i not in inside:
            base.update(kept)
    for block in segments:
        base |= {s for n in block.inputs if (s := st.of.get(n)) is not None}
    recompute = 0
    for block in segments:
        own = set().union(*st.kept[block.first : block.last + 1]) - base
        recompute = max(recompute, sum(st.nbytes[s] for s in own))
    return sum(st.nbytes[s] for s in base) + recompute


def _segments(report) -> list:
    """Where checkpoints go: each repetition of the outermost repeats (a transformer's layers, a ResNet's
    stages' blocks); with no repeat, the top-level blocks."""
    repeats = {b.name for b in report.blocks if "×" in b.kind}
    outermost = [b for b in report.blocks if b.name in repeats and not repeats & set(b.path)]
    if not outermost:
        return [b for b in report.blocks if b.depth == 1 and b.last >= b.first]
    return [
        b
        for repeat in outermost
        for b in report.blocks
        if b.path == [*repeat.path, repeat.name] and b.depth == repeat.depth + 1 and b.last >= b.first
    ]


# ---------------------------------------------------------------- the whole bill


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def memory(report, layers, settings: Settings) -> Memory:
    """What training (or inference) needs, by component, for one model replica and per device."""
    settings.validate()
    if settings.kv_cache and settings.train:
        raise SpecError("a KV cache is kept when decoding: add --inference")
    batch = settings.batch or report.batch
    ctx = Context(batch, settings.device, settings.attention)
    width, master_width, state_width = PRECISIONS[settings.precision]
    dtype = ACTIVATION_DTYPE[settings.precision]
    t = report.totals
    bits = WEIGHT_BITS[settings.weights] if settings.weights else 8 * width
    components = dict.fromkeys(
        (
            "parameters",
            "gradients",
            "optimizer_state",
            "master_weights",
            "saved_activations",
            "activations",
            "kv_cache",
        ),
        0,
    )
    components["parameters"] = _ceil_div(t.params * bits, 8)
    if settings.train:
        per_param, step = OPTIMIZERS[settings.optimizer]
        tensors = sum(
            max(layer.param_tensors([tuple(s) for s in row.input_shapes]) - (1 if row.shared else 0), 0)
            for row, layer in zip(report.layers, layers)
            if row.trainable
        )
        components["gradients"] = t.trainable * width
        components["master_weights"] = t.trainable * master_width
        components["optimizer_state"] = t.trainable * per_param * state_width + (tensors * STEP_BYTES if step else 0)
        components["saved_activations"] = (
            checkpointed(report, layers, ctx, dtype)
            if settings.checkpoint
            else activations(report, layers, ctx, dtype).saved_total
        )
    else:
        components["activations"] = activations(report, layers, ctx, dtype).peak
    if settings.kv_cache:
        per_position = sum(
            layer.kv_cache([tuple(s) for s in row.input_shapes]) for row, layer in zip(report.layers, layers)
        )
        components["kv_cache"] = per_position * settings.kv_cache * batch * DTYPE_BYTES[dtype]
    # ZeRO: stage 1 partitions optimizer states (master weights with them), 2 gradients too, 3 parameters too.
    partitioned = {"optimizer_state": 1, "master_weights": 1, "gradients": 2, "parameters": 3}
    per_device = {
        key: _ceil_div(value, settings.devices) if settings.zero >= partitioned.get(key, 4) else value
        for key, value in components.items()
    }
    return Memory(
        report.name,
        batch,
        settings.as_dict(batch),
        components,
        sum(components.values()),
        sum(per_device.values()),
        per_device,
    )
