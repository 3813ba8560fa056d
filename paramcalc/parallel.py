"""Parallel training: what each device holds under tensor (tp), pipeline (pp), expert (ep), context (cp) and
data (dp) parallelism. Pure: no I/O, no printing.

Parameters, by layer (Megatron-LM's layout, Shoeybi et al. 2019; PyTorch's DTensor plans are the same):
- a linear on the residual stream's width is column-parallel (its weight's outputs and its bias split over
  tp); one that returns to that width from another is row-parallel (its weight's inputs split, its bias
  whole on every rank). The residual width is the width the network's norms normalise.
- attention: the q, k, v projections column-parallel (whole heads and key/value heads per rank: both must
  divide by tp), the output projection row-parallel.
- the embedding and the output head (a linear producing the network's output) split their vocabulary
  over tp; Megatron pads it to a multiple of 128 · tp first (--make-vocab-size-divisible-by 128),
  PyTorch's DTensor splits it unpadded (rank 0 has ⌈vocab / tp⌉ rows).
- everything else (norms, convolutions, ...) is replicated on every tp rank.
  Each kind declares its role as its `tensor_parallel` attribute (layers/base.py).
- a kind with an `experts` attribute spreads its parameters over ep (each rank ep's share of experts).
- pipeline stages take equal runs of the outermost repeat's repetitions (pp must divide them); what comes
  before it is on the first stage, what comes after on the last. With the interleaved schedule each
  device holds `virtual` chunks (chunk c on device c mod pp).

Gradients are the parameters' size; Megatron accumulates them in fp32 (main_grad) under mixed precision.
PyTorch's DTensor gives the vocabulary-split embedding a replicated, whole gradient (torch 2.13's
embedding backward; tests/fixtures/parallel.json measures it). Optimizer state and master weights as
memory.py counts them; the distributed optimizer (Megatron's ZeRO-1) shards them over dp (× cp).
FSDP (fully_shard, ZeRO-3) shards every parameter, its gradient and optimizer state along dim 0 over dp
(rank 0 the largest: ⌈dim 0 / dp⌉ rows); in a unit's forward and backward its whole parameters are gathered:
the largest unit (an outermost repetition, else the whole network) counts once more, whole.

Activations per microbatch are activations.py's saved tensors of the stage's layers; with sequence
parallelism all of them split over tp, without it only those inside the tensor-parallel regions (after a
column-parallel linear, before the row-parallel one: attention's q, k, v and output, the MLP's hidden
ones), as Korthikanti et al. 2022 ("Reducing Activation Recomputation in Large Transformer Models")
count them (equal to what autograd keeps on each rank of PyTorch's DTensor tensor parallelism:
tests/fixtures/parallel.json); cp splits them all along the sequence. The 1F1B schedule keeps
min(pp − s, m) microbatches in flight on stage s; the interleaved one min(2 (pp − s − 1) + (v − 1) pp + 1,
m v) chunks of 1/v of the stage (Megatron-LM's schedules.py warm-up counts).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import NamedTuple

from .activations import activations
from .errors import SpecError
from .layers.base import DTYPE_BYTES, Context
from .memory import ACTIVATION_DTYPE, OPTIMIZERS, PRECISIONS, STEP_BYTES

ENGINES = ("megatron", "torch")
SCHEDULES = ("1f1b", "interleaved")
# tensor_parallel roles (layers/base.py) whose activations stay whole on every rank without sequence parallelism
REPLICATED_REGION = ("norm", "replicated", "vocabulary")
VOCAB_MULTIPLE = 128  # Megatron-LM's --make-vocab-size-divisible-by default


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


@dataclasses.dataclass(frozen=True)
class Parallel:
    tp: int = 1
    pp: int = 1
    ep: int = 1
    cp: int = 1
    dp: int = 1
    sequence_parallel: bool = False
    distributed_optimizer: bool = False
    fsdp: bool = False
    microbatches: int | None = None  # None: pp
    schedule: str = "1f1b"
    virtual: int = 2  # chunks per device with the interleaved schedule
    engine: str = "megatron"

    @property
    def active(self) -> bool:
        return max(self.tp, self.pp, self.ep, self.cp, self.dp) > 1 or self.fsdp or self.distributed_optimizer

    def validate(self) -> None:
        for name in ("tp", "pp", "ep", "cp", "dp", "virtual"):
            if getattr(self, name) < 1:
                raise SpecError(f"--{name} must be at least 1, found {getattr(self, name)}")
        if self.microbatches is not None and self.microbatches < 1:
            raise SpecError(f"--microbatches must be at least 1, found {self.microbatches}")
        if self.schedule not in SCHEDULES:
            raise SpecError(f"unknown pipeline schedule '{self.schedule}' (one of {', '.join(SCHEDULES)})")
        if self.engine not in ENGINES:
            raise SpecError(f"unknown parallel engine '{self.engine}' (one of {', '.join(ENGINES)})")
        if self.sequence_parallel and self.tp == 1:
            raise SpecError("sequence parallelism splits what tensor parallelism replicates: give --tp N (N > 1)")
        if self.fsdp and self.distributed_optimizer:
            raise SpecError("FSDP already shards the optimizer state: drop --distributed-optimizer")
        if self.schedule == "interleaved" and self.pp == 1:
            raise SpecError("the interleaved schedule is a pipeline's: give --pp N (N > 1)")


class Tensor(NamedTuple):
    """One parameter tensor on one device: its elements there, its dim 0 and the rest (for FSDP's rows),
    and whether its gradient is whole although it is split (DTensor's embedding)."""

    elements: int
    rows: int
    whole_grad: int = 0  # the whole tensor's elements where its gradient is not split


class Device(NamedTuple):
    stage: int
    layers: int  # rows on the stage
    components: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.components.values())


# ---------------------------------------------------------------- parameters per device


def residual_width(report, layers) -> int | None:
    """The width the norms normalise (a transformer's hidden size): the most common, or None."""
    widths = Counter(
        row.output_shape[-1]
        for row, layer in zip(report.layers, layers)
        if layer.tensor_parallel == "norm" and row.output_shape
    )
    return widths.most_common(1)[0][0] if widths else None


def _split(n: int, tp: int, what: str, row) -> int:
    if n % tp:
        raise SpecError(f"layer '{row.name}': tensor parallelism over {tp} must divide its {what} ({n})")
    return n // tp


def _vocab(num: int, par: Parallel) -> int:
    """A vocabulary's rows per tp rank."""
    if par.engine == "megatron":
        multiple = VOCAB_MULTIPLE * par.tp
        return _cdiv(num, multiple) * multiple // par.tp
    return _cdiv(num, par.tp)


def layer_tensors(row, layer, par: Parallel, width: int | None, head: bool) -> list[Tensor]:
    """The parameter tensors of one layer on one tp (and ep) rank."""
    shapes = [tuple(s) for s in row.input_shapes]
    tp = par.tp
    if row.params - row.shared <= 0 and not row.shared:
        return []
    role = layer.tensor_parallel
    if getattr(layer, "experts", None):
        return [Tensor(_cdiv(row.params, par.ep), _cdiv(row.params, par.ep))]
    if role == "vocabulary":
        rows = _vocab(layer.num, par)
        return [Tensor(rows * layer.dim, rows, layer.num * layer.dim if par.engine == "torch" else 0)]
    if role == "projection":
        k, n = shapes[0][-1], layer.out
        bias = [Tensor(n, n)] if layer.bias else []
        if head:  # vocabulary-parallel output layer
            rows = _vocab(n, par)
            return [Tensor(rows * k, rows)] + ([Tensor(rows, rows)] if layer.bias else [])
        if n == width and k != width:  # row-parallel: inputs split, bias whole
            return [Tensor(n * _split(k, tp, "input features", row), n)] + bias
        out = _split(n, tp, "output features", row)
        return [Tensor(out * k, out)] + ([Tensor(out, out)] if layer.bias else [])
    if role == "heads":
        _, _, e, kdim, vdim, q, kv = layer._dims(shapes)
        _split(layer.heads, tp, "heads", row)
        _split(layer.kv_heads or layer.heads, tp, "key/value heads", row)
        has = layer._has
        tensors = [Tensor(q // tp * e, q // tp), Tensor(kv // tp * kdim, kv // tp), Tensor(kv // tp * vdim, kv // tp)]
        tensors.append(Tensor(e * q // tp, e))
        for flag, n in ((layer.q_bias, q // tp), (layer.k_bias, kv // tp), (layer.v_bias, kv // tp)):
            if has(flag):
                tensors.append(Tensor(n, n))
        if has(layer.out_bias):
            tensors.append(Tensor(e, e))
        return tensors
    return [Tensor(row.params - row.shared, (row.output_shape or [1])[-1])]  # replicated, one tensor


# ---------------------------------------------------------------- stages


def stages(report, par: Parallel) -> list[int]:
    """The pipeline stage (device) of every row."""
    n = len(report.layers)
    if par.pp == 1:
        return [0] * n
    repeats = [b for b in report.blocks if "×" in b.kind]
    outer = [b for b in repeats if not {r.name for r in repeats} & set(b.path)]
    if not outer:
        raise SpecError("pipeline parallelism splits a repeat's repetitions: this spec has no `repeat`")
    repeat = max(outer, key=lambda b: b.last - b.first)
    reps = [
        b
        for b in report.blocks
        if b.path == [*repeat.path, repeat.name] and b.depth == repeat.depth + 1 and b.last >= b.first
    ]
    chunks = par.pp * (par.virtual if par.schedule == "interleaved" else 1)
    if len(reps) % chunks:
        raise SpecError(
            f"{chunks} pipeline chunks must divide the {len(reps)} repetitions of '{repeat.name}' "
            f"(pp {par.pp}" + (f" × {par.virtual} virtual stages)" if chunks > par.pp else ")")
        )
    per_chunk = len(reps) // chunks
    stage = [0] * n
    for i in range(repeat.last + 1, n):
        stage[i] = par.pp - 1
    for j, rep in enumerate(reps):
        for i in range(rep.first, rep.last + 1):
            stage[i] = (j // per_chunk) % par.pp
    return stage


# ---------------------------------------------------------------- the bill per device


def per_device(report, layers, par: Parallel, precision: str, optimizer: str, batch: int, ctx_device, attention):
    """Every pipeline stage's most loaded device (tp, cp and dp ranks hold alike but for FSDP's rounding)."""
    par.validate()
    width, master_width, state_width = PRECISIONS[precision]
    grad_width = 4 if par.engine == "megatron" and master_width else width
    per_param, step = OPTIMIZERS[optimizer]
    stage_of = stages(report, par)
    residual = residual_width(report, layers)
    heads = set(report.outputs)
    shard = par.dp * par.cp if par.distributed_optimizer else 1
    dtype = ACTIVATION_DTYPE[precision]
    saved = activations(report, layers, Context(batch, ctx_device, attention), dtype).saved_bytes
    itemsize = DTYPE_BYTES[dtype]
    m = par.microbatches or par.pp
    owners = {row.name: stage_of[i] for i, row in enumerate(report.layers)}
    unit = 0 if not par.fsdp else _largest_unit(report, layers, par, residual, heads)
    devices = []
    for s in range(par.pp):
        params = grads = optim = master = tensors = 0
        acts = 0
        for i, (row, layer) in enumerate(zip(report.layers, layers)):
            if stage_of[i] != s:
                continue
            owned = layer_tensors(row, layer, par, residual, row.name in heads)
            if row.shared and owners.get(row.tied_to) != s:  # a tied weight away from its owner: a copy here
                owned = owned + [Tensor(row.shared, row.shared)]
            for t in owned:
                local = _cdiv(t.rows, par.dp) * (t.elements // max(t.rows, 1)) if par.fsdp else t.elements
                params += local
                if not row.trainable:
                    continue
                grads += t.whole_grad if t.whole_grad and not par.fsdp else local
                sharded = local if par.fsdp else _cdiv(t.elements, shard)
                optim += sharded
                master += sharded
                tensors += 1
            acts += _split_activation(row, layer, saved[i], par, residual, itemsize, batch)
        in_flight = _in_flight(s, m, par)
        components = {
            "parameters": params * width,
            "gradients": grads * grad_width,
            "optimizer_state": optim * per_param * state_width + (tensors * STEP_BYTES if step else 0),
            "master_weights": master * master_width,
            "saved_activations": _cdiv(acts * in_flight[0], in_flight[1] * par.cp),
        }
        if par.fsdp:  # the largest unit's whole parameters, gathered while it runs
            components["gathered_parameters"] = unit * width
        devices.append(Device(s, stage_of.count(s), components))
    return devices


def _in_flight(stage: int, m: int, par: Parallel) -> tuple[int, int]:
    """(chunks of activations held, chunks per stage)."""
    if par.schedule == "interleaved":
        v = par.virtual
        return min(2 * (par.pp - stage - 1) + (v - 1) * par.pp + 1, m * v), v
    return min(par.pp - stage, m), 1


def _split_activation(row, layer, saved: int, par: Parallel, width, itemsize: int, batch: int) -> int:
    """A row's saved bytes on one tp rank."""
    if par.tp == 1 or not saved:
        return saved
    if par.sequence_parallel:
        return _cdiv(saved, par.tp)
    role = layer.tensor_parallel
    if role in REPLICATED_REGION:
        return saved
    if role == "projection":  # a column-parallel linear keeps its whole input; a row-parallel one its split one
        return saved if row.input_shapes[0][-1] == width else _cdiv(saved, par.tp)
    if role == "heads":  # its input (the norm's output) is whole; q, k, v and the output split
        whole = min(saved, batch * _numel(row.input_shapes[0]) * itemsize)
        return whole + _cdiv(saved - whole, par.tp)
    return _cdiv(saved, par.tp)


def _numel(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _largest_unit(report, layers, par: Parallel, residual, heads) -> int:
    """FSDP's gathered unit, in elements: the largest outermost repetition's whole parameters (fully_shard
    on each block) where the spec repeats, else the whole network's."""
    whole = dataclasses.replace(par, fsdp=False, dp=1)
    repeats = [b for b in report.blocks if "×" in b.kind]
    outer = [b for b in repeats if not {r.name for r in repeats} & set(b.path)]
    spans = [
        (b.first, b.last)
        for repeat in outer
        for b in report.blocks
        if b.path == [*repeat.path, repeat.name] and b.depth == repeat.depth + 1 and b.last >= b.first
    ] or [(0, len(report.layers) - 1)]
    best = 0
    for first, last in spans:
        full = sum(
            t.elements
            for i in range(first, last + 1)
            for t in layer_tensors(report.layers[i], layers[i], whole, residual, report.layers[i].name in heads)
        )
        best = max(best, full)
    return best


# ---------------------------------------------------------------- the result


@dataclasses.dataclass(frozen=True)
class Sharded:
    """memory()'s bill of one replica, with what each pipeline stage's device holds."""

    replica: object  # memory.Memory
    par: Parallel
    devices: list[Device]

    @property
    def most_loaded(self) -> Device:
        return max(self.devices, key=lambda d: d.total)

    def settings(self) -> dict:
        par = self.par
        return {
            "tp": par.tp,
            "pp": par.pp,
            "ep": par.ep,
            "cp": par.cp,
            "dp": par.dp,
            "sequence_parallel": par.sequence_parallel,
            "distributed_optimizer": par.distributed_optimizer,
            "fsdp": par.fsdp,
            "microbatches": par.microbatches or par.pp,
            "pipeline_schedule": par.schedule,
            "virtual_stages": par.virtual if par.schedule == "interleaved" else 1,
            "engine": par.engine,
            "world_size": par.tp * par.pp * par.cp * par.dp,
        }

    def to_dict(self) -> dict:
        """memory's JSON with per_device and per_device_components for the most loaded device, and each
        stage's device in `devices` (all bytes)."""
        out = self.replica.to_dict()  # type: ignore[attr-defined]
        most = self.most_loaded
        out["settings"] = {**out["settings"], "parallel": self.settings()}
        out["per_device"] = most.total
        out["per_device_components"] = most.components
        out["most_loaded_stage"] = most.stage
        out["devices"] = [
            {"stage": d.stage, "layers": d.layers, "components": d.components, "total": d.total} for d in self.devices
        ]
        return out


def sharded(analysis, settings, par: Parallel) -> Sharded:
    """`settings`: memory.Settings for one replica (training, no ZeRO: parallelism partitions instead)."""
    from .memory import memory

    report, layers = analysis.report, analysis.layers

    if not settings.train:
        raise SpecError("--tp, --pp, --ep, --cp and --dp size training here: drop --inference (serving: --serve)")
    if settings.zero or settings.devices > 1:
        raise SpecError("with --tp/--pp/--dp, give data parallelism as --dp N with --distributed-optimizer or --fsdp")
    if settings.checkpoint:
        raise SpecError("activation checkpointing is not yet counted per device: drop --checkpoint")
    replica = memory(analysis, settings)
    batch = settings.batch or report.batch
    devices = per_device(
        report, layers, par, settings.precision, settings.optimizer, batch, settings.device, settings.attention
    )
    return Sharded(dataclasses.replace(replica, peak=None, verdict=None), par, devices)  # type: ignore[type-var]
