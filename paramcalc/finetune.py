"""Fine-tuning over a frozen base, as peft, bitsandbytes and DeepSpeed run it. Pure: no I/O, no printing.

LoRA (peft's LoraLayer, peft/tuners/lora/layer.py, Linear): each targeted linear of K inputs and N outputs
keeps its frozen weight and gains A (K × r) and B (r × N), no bias; forward `result = base_layer(x)`, then
`result = result + lora_B(lora_A(dropout(x))) * scaling` (lora_dropout 0: an identity). Only A and B
train: gradients, optimizer state and master weights are theirs. What autograd keeps over a frozen base,
measured by tests/generate_peak_fixture.py (LORA_CASES, saved_tensors_hooks):
- nothing before the first adapter: no tensor there requires a gradient, so no graph is built;
- a frozen linear keeps nothing (mm keeps its input only for its weight's gradient);
- an adapted linear keeps its input (lora_A's) and A's r-wide output (lora_B's);
- attention keeps q, k, v and its kernel's tensors as before; its projections' input only where an adapter
  on q, k or v reads it; on the math kernel o_proj's input only where o_proj is adapted;
- RMSNorm over a frozen scale does not keep the normalised input (only the scale's gradient reads it);
- every other layer as before (layer and batch norm, convolutions, activations save unconditionally).
The targets are glob patterns on layer names; an attention layer's projections are named as Hugging
Face's are, `<layer>.q_proj`, `.k_proj`, `.v_proj`, `.o_proj`. The default is peft's for Llama-family models
(TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING: q_proj and v_proj): every attention layer's query and
value projections.

QLoRA (Dettmers et al. 2023; bitsandbytes' Linear4bit): the frozen linears but the head in NF4 as
quant.py stores them (block 64, double-quantised absmax); every other weight in 16 bits. bitsandbytes'
MatMul4Bit dequantises the weight for the forward product and again for the input's gradient
(bitsandbytes/autograd/_functions.py), keeping no input: a 16-bit copy of the weight alive while it runs.

8-bit AdamW (bitsandbytes' AdamW8bit, bitsandbytes/optim/optimizer.py at 51294d90, Optimizer2State.init_state):
a tensor of at least min_8bit_size = 4096 elements keeps state1 and state2 as uint8 (1 byte each per
element) and per block of 256 elements an fp32 absmax for each; a smaller one keeps two fp32 states; the
step is a Python int; the signed and unsigned 256-entry fp32 quantisation maps (qmap1, qmap2) are one
pair shared by every tensor.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import NamedTuple

from . import quant
from .errors import SpecError, did_you_mean
from .layers.base import Context, Saved, prod

PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj")
DEFAULT_TARGETS = "*q_proj,*v_proj"
MIN_8BIT_SIZE = 4096
BLOCK_8BIT = 256
QMAP_BYTES = 2 * 256 * 4
OFFLOADS = ("optimizer", "params")


class Adapter(NamedTuple):
    row: int  # the report row it adapts
    name: str
    k: int  # the base matrix's inputs and outputs
    n: int
    positions: int  # per sample: the vectors it reads (all input dims but the last)


class Plan(NamedTuple):
    """The adapters of a network, by row, at rank `rank`."""

    rank: int
    by_row: dict[int, list[Adapter]]

    def params(self, row: int) -> int:
        return sum(self.rank * (a.k + a.n) for a in self.by_row.get(row, ()))

    def sizes(self) -> list[int]:
        """Every trainable tensor's elements: A and B of each adapter."""
        return [n for ads in self.by_row.values() for a in ads for n in (a.k * self.rank, self.rank * a.n)]


def candidates(report, layers) -> list[Adapter]:
    """Every linear an adapter can go on: linear layers, and attention layers' four projections."""
    found = []
    for i, (row, layer) in enumerate(zip(report.layers, layers)):
        shapes = [tuple(s) for s in row.input_shapes]
        role = layer.tensor_parallel
        if role == "projection" and not row.shared:
            m = quant.matrices(layer, shapes)[0]
            found.append(Adapter(i, row.name, m.k, m.n, prod(shapes[0][:-1])))
        elif role == "heads":
            read = (shapes * 3)[:3] if len(shapes) == 1 else (shapes[0], shapes[1], shapes[-1])
            for proj, m, shape in zip(PROJECTIONS, quant.matrices(layer, shapes), (*read, read[0])):
                found.append(Adapter(i, f"{row.name}.{proj}", m.k, m.n, prod(shape[:-1])))
    return found


def plan(report, layers, rank: int, targets: str | None) -> Plan:
    """The adapters the patterns (comma-separated globs on layer names) pick; one matching nothing is an error."""
    if rank < 1:
        raise SpecError(f"--lora takes the adapters' rank, at least 1, found {rank}")
    every = candidates(report, layers)
    patterns = [p.strip() for p in (targets or DEFAULT_TARGETS).split(",") if p.strip()]
    if not patterns:
        raise SpecError("--lora-targets names no layer: give glob patterns, e.g. '*q_proj,*v_proj'")
    chosen: dict[str, Adapter] = {}
    for pattern in patterns:
        hits = [a for a in every if fnmatchcase(a.name, pattern)]
        if not hits:
            last = sorted({a.name.rsplit(".", 1)[-1] for a in every})
            hint = did_you_mean(pattern.lstrip("*"), last)
            raise SpecError(
                f"LoRA target '{pattern}' matches no linear layer"
                + (f" (linear layers end in: {', '.join(last[:12])})" if last else " (the network has none)"),
                hint=hint.replace("'", "'*", 1) if hint else None,
            )
        chosen.update((a.name, a) for a in hits)
    by_row: dict[int, list[Adapter]] = {}
    for a in chosen.values():
        by_row.setdefault(a.row, []).append(a)
    return Plan(rank, by_row)


def frozen_report(report, adapters: Plan):
    """The report with only the adapters trainable: each row's trainable count is its adapters' (no bias,
    no tied weight's second gradient), which is what the step's timeline reads."""
    from dataclasses import replace

    rows = [
        replace(row, trainable=adapters.params(i), bias=0, shared=0) if row.trainable or i in adapters.by_row else row
        for i, row in enumerate(report.layers)
    ]
    return replace(report, layers=rows)


def requires_grad(report, layers, adapters: Plan) -> list[bool]:
    """Per row, whether its output requires a gradient: it has an adapter, or reads a tensor that does."""
    last_row = {block.name: report.layers[block.last].name for block in report.blocks}
    needs: dict[str, bool] = dict.fromkeys(report.inputs, False)
    out = []
    for i, row in enumerate(report.layers):
        names = [n if n in needs else last_row[n] for n in row.inputs]
        needs[row.name] = i in adapters.by_row or any(needs[n] for n in names)
        out.append(needs[row.name])
    return out


def frozen_saves(report, layers, adapters: Plan, ctx: Context):
    """storages()'s `frozen` hook: what each row keeps over the frozen base (see the module's docstring)."""
    needs = requires_grad(report, layers, adapters)

    def saves(i: int, keeps: Saved) -> Saved:
        layer, ads = layers[i], adapters.by_row.get(i, ())
        if not needs[i]:
            return Saved(alias=keeps.alias, parameter=keeps.parameter)
        r_wide = tuple((ctx.batch * a.positions * adapters.rank, "act") for a in ads)
        role = layer.tensor_parallel
        if role == "projection":
            return keeps._replace(tensors=keeps.tensors + r_wide) if ads else Saved()
        if role == "heads":
            shapes = [tuple(s) for s in report.layers[i].input_shapes]
            which = {a.name.rsplit(".", 1)[-1] for a in ads}
            tensors = keeps.tensors
            if ctx.attention == "math" or len(shapes[0]) > 2:
                tensors = tensors if "o_proj" in which else tensors[:-1]  # o_proj's input
            if which <= {"o_proj"}:  # no adapter reads the projections' input (nor batch_first's copies)
                copied = layer.batch_first and ctx.batch > 1 and not layer.projected(shapes)
                return keeps._replace(inputs=(), tensors=tensors[len(shapes) if copied else 0 :] + r_wide)
            return keeps._replace(tensors=tensors + r_wide)
        if layer.kind == "rmsnorm" and getattr(layer, "elementwise_affine", False):
            return keeps._replace(tensors=keeps.tensors[:1])  # the inverse RMS; not the normalised input
        return keeps

    return saves


def temporaries(adapters: Plan, batch: int, width: int, nf4: dict[int, int]) -> dict[int, tuple[int, int]]:
    """Per row, the bytes its adapters (and NF4 dequantisation) allocate and free while it runs. Forward:
    the base output and B's scaled output beside their sum; backward: B's output gradient scaled, then
    A's input gradient beside the base's before they are added. QLoRA: a 16-bit weight dequantised."""
    out: dict[int, tuple[int, int]] = {}
    for i, ads in adapters.by_row.items():
        fwd = max(2 * batch * a.positions * a.n * width for a in ads)
        bwd = max(batch * a.positions * max(a.k, a.n) * width for a in ads)
        out[i] = (fwd, bwd)
    for i, weight in nf4.items():
        fwd, bwd = out.get(i, (0, 0))
        out[i] = (fwd + weight, bwd + weight)
    return out


def nf4_linears(report, layers) -> dict[int, int]:
    """QLoRA: per row, the largest weight dequantised at once (16 bits) by its NF4 linears (not the head)."""
    heads = set(report.outputs)
    found = {}
    for i, (row, layer) in enumerate(zip(report.layers, layers)):
        if row.params and not row.shared and row.name not in heads and layer.tensor_parallel in ("projection", "heads"):
            mats = quant.matrices(layer, [tuple(s) for s in row.input_shapes])
            found[i] = max(m.k * m.n for m in mats) * 2
    return found


def adam8bit_state(sizes: list[int]) -> int:
    """bitsandbytes' AdamW8bit state for tensors of these sizes (see the module's docstring)."""
    total = 0
    for n in sizes:
        if n < MIN_8BIT_SIZE:
            total += 2 * 4 * n
        else:
            total += 2 * n + 2 * 4 * -(-n // BLOCK_8BIT)
    return total + (QMAP_BYTES if any(n >= MIN_8BIT_SIZE for n in sizes) else 0)
