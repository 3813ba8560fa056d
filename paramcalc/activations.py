"""Activations: what a network's layers produce and what autograd keeps for backward, per layer,
from its Report. Pure: no I/O, no printing. Every analysis runs it (the rows' activation and saved
bytes); `paramcalc memory` (memory.py) adds the model states.

Activations follow PyTorch's autograd: each kind says what its backward keeps (Layer.saves), and a
tensor kept by several layers (a ReLU's output that is also the next convolution's input) is counted
once, by storage, as torch.autograd.graph.saved_tensors_hooks sees it.
"""

from __future__ import annotations

from typing import NamedTuple

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


class Activations(NamedTuple):
    """Per layer, the output's bytes and what it adds to autograd's saved tensors; and the totals."""

    activation_bytes: list[int]
    saved_bytes: list[int]
    saved_total: int
    peak: int  # inference: most activation bytes alive at once


class Storages:
    """Every tensor storage of one training step, numbered in execution order: the network's inputs,
    each layer's output (a view or an in-place layer shares its input's; a parameter has none), and
    the new tensors layers keep for backward. A view's strides say where it lies in its storage, as
    PyTorch's do: a reshape that no view can express (a permuted tensor's), or an operand a kernel must
    fold, is a copy. A new tensor is laid out row-major, or by an elementwise kernel as its inputs are."""

    def __init__(self):
        self.nbytes: list[int] = []
        self.of: dict[str, int | None] = {}  # tensor name -> storage
        self.strides: dict[str, tuple[int, ...]] = {}  # batch dim first; absent: row-major
        self.reads: list[tuple[int, ...]] = []  # per layer
        self.kept: list[tuple[int, ...]] = []  # per layer: what its backward keeps, each once
        self.output_bytes: list[int] = []  # per layer
        self.outputs: list[int | None] = []  # per layer: its output's storage (of[its name])
        self.shared: dict = {}  # Saved.shared key -> storage

    def new(self, n: int) -> int:
        self.nbytes.append(n)
        return len(self.nbytes) - 1

    def layout(self, name: str, shape, ctx: Context) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """A tensor's shape and strides, batch dim first."""
        full = (ctx.batch, *shape)
        return full, self.strides.get(name) or contiguous_strides(full)


class Amp(NamedTuple):
    """A row under torch.autocast (or a 16-bit row computing in float32): its output's and its kernel's
    element widths, which inputs it keeps as a copy at the kernel's width (an autocast op casts a
    float32 input; an upcast norm a 16-bit one), and its parameters' cached 16-bit copies."""

    out: int
    act: int
    casts: tuple[int, ...] = ()
    weight_copies: int = 0


def storages(report, layers, ctx: Context, dtype: str, amp: list[Amp] | None = None, frozen=None) -> Storages:
    """Every storage of the step, row by row: the output is a new storage, a view or in-place result
    of input 0 (_place), or none for a parameter; then what the row's backward keeps (_keep, for rows
    that keep new tensors or copies). `amp`: per row, under autocast (else every width is dtype's).
    `frozen(index, saved)`: what a row keeps over a frozen base instead (finetune.py), when given."""
    itemsize = DTYPE_BYTES[dtype]
    from .analysis import token_inputs  # (here: `paramcalc schema` loads this module, not the analysis)

    tokens = token_inputs(report, layers)  # token ids are int64
    st = Storages()
    for name, shape in report.inputs.items():
        st.of[name] = st.new(ctx.batch * prod(shape) * (8 if name in tokens else itemsize))
    # A composite layer (a transformer layer) is read by its own name: its output is its last inner row's.
    last_row = {block.name: report.layers[block.last].name for block in report.blocks}
    # What a layer keeps follows from the layer and its shapes; identical layers are one object and
    # rows of equal shapes share their lists, so a repeated block's layers are asked once.
    asked: dict[tuple, tuple[Saved, int, bool]] = {}
    of, strides, nbytes = st.of, st.strides, st.nbytes  # read once per row: locals
    reads, kept_by_row, output_bytes, outputs = st.reads, st.kept, st.output_bytes, st.outputs
    width = itemsize
    plain = Amp(itemsize, itemsize)
    for index, (row, layer) in enumerate(zip(report.layers, layers)):
        if amp is not None:
            width = amp[index].out
        question = (layer, id(row.input_shapes), id(row.output_shape), width)
        answer = asked.get(question)
        if answer is None:
            answer = asked[question] = _ask(row, layer, ctx, width)
        keeps, size, keeps_new = answer
        if frozen is not None:
            keeps = frozen(index, keeps)
            keeps_new = bool(keeps.tensors or keeps.folded or keeps.shared)
        names = row.inputs
        if len(names) != 1 or names[0] not in of:  # (a composite layer is read by its last row's name)
            names = _by_last_row(names, of, last_row)
        # storages, None for a parameter (filtered where kept); most layers read one
        ins: list = [of[names[0]]] if len(names) == 1 else [of[n] for n in names]
        if keeps.parameter or keeps.alias:
            mine = _place(st, row, layer, keeps, size, names, ins, ctx)
        else:
            mine = len(nbytes)
            nbytes.append(size)
            if strides and layer.elementwise and not strides.keys().isdisjoint(names):
                _lay_out_like_inputs(st, row, names, ctx)
        of[row.name] = mine
        output_bytes.append(size)
        outputs.append(mine)
        reads.append(tuple([s for s in ins if s is not None]) if None in ins else tuple(ins))
        if keeps_new or amp is not None:
            kept = _keep(st, row, keeps, names, ins, mine, ctx, amp[index] if amp else plain)
        else:
            kept = [ins[i] for i in keeps.inputs] if keeps.inputs else []
            if keeps.output:
                kept.append(mine)
        if None in kept:
            kept = [s for s in kept if s is not None]
        kept_by_row.append(tuple(dict.fromkeys(kept)) if len(kept) > 1 else tuple(kept))  # each once
    return st


def _by_last_row(names, of, last_row) -> list[str]:
    return [n if n in of else last_row[n] for n in names]


def _ask(row, layer, ctx: Context, width: int) -> tuple[Saved, int, bool]:
    """What a layer keeps at its shapes, its output's bytes, and whether it keeps new tensors."""
    out = tuple(row.output_shape)
    keeps = layer.saves([tuple(s) for s in row.input_shapes], out, ctx)
    size = 0 if keeps.parameter else ctx.batch * prod(out) * width
    return keeps, size, bool(keeps.tensors or keeps.folded or keeps.shared)


def _lay_out_like_inputs(st: Storages, row, names, ctx: Context) -> None:
    """An elementwise kernel lays its new output out as its inputs are (a permuted input: permuted)."""
    layouts = [st.layout(n, shape, ctx) for n, shape in zip(names, row.input_shapes)]
    st.strides[row.name] = elementwise_strides((ctx.batch, *row.output_shape), layouts)


def _place(st: Storages, row, layer, keeps: Saved, size: int, names, ins, ctx: Context) -> int | None:
    """The output's storage of a parameter (none: it has no batch dim, and is broadcast over the batch)
    or of a view or in-place layer (input 0's, unless PyTorch must copy: a new row-major tensor)."""
    if keeps.parameter:
        st.strides[row.name] = (0, *contiguous_strides(row.output_shape))
        return None
    full = (ctx.batch, *row.output_shape)
    view = layer.view_strides(*st.layout(names[0], row.input_shapes[0], ctx), full)
    if view is None:
        return st.new(size)
    if view != contiguous_strides(full):
        st.strides[row.name] = view
    return ins[0]


# a kept tensor's bytes per element, by its dtype ("act": the activations'), for each activation width
SIZES = {width: {"act": width, "float32": 4, "int64": 8, "bool": 1} for width in (1, 2, 4, 8)}


def _keep(st: Storages, row, keeps: Saved, names, ins, mine, ctx: Context, amp: Amp) -> list:
    """What a row's backward keeps: inputs (under autocast a 16-bit copy of a float32 one), its output,
    new tensors, inputs folded for a kernel (a view where the layout allows, else a copy), tensors
    shared by every row asking for the same key, and autocast's cached 16-bit copies of its weights."""
    sizes = SIZES[amp.act]
    kept = [
        ins[i] if i not in amp.casts else st.new(ctx.batch * prod(row.input_shapes[i]) * amp.act) for i in keeps.inputs
    ]
    if keeps.output:
        kept.append(mine)
    for n, t in keeps.tensors:
        kept.append(st.new(n * sizes[t]))
    for i, broadcast, folded in keeps.folded:
        copied = False  # a row-major tensor that is not broadcast folds to a view
        if names[i] in st.strides or (ctx.batch, *row.input_shapes[i]) != broadcast:
            shape, in_strides = st.layout(names[i], row.input_shapes[i], ctx)
            copied = reshape_strides(broadcast, broadcast_strides(shape, in_strides, broadcast), folded) is None
        kept.append(st.new(prod(folded) * amp.act) if copied or i in amp.casts else ins[i])
    for key, n, t in keeps.shared:
        if key not in st.shared:
            st.shared[key] = st.new(n * sizes[t])
        kept.append(st.shared[key])
    if amp.weight_copies:
        kept.append(st.new(amp.weight_copies))
    return kept


def activations(report, layers, ctx: Context, dtype: str, amp: list[Amp] | None = None) -> Activations:
    """`layers`: the Layer of every report row. A layer's saved bytes are the storages its backward
    keeps that no earlier layer kept. `amp`: under autocast (see autocast.py)."""
    st = storages(report, layers, ctx, dtype, amp)
    saved: set[int] = set()
    saved_bytes = []
    nbytes = st.nbytes
    for kept in st.kept:
        added = 0
        for s in kept:
            if s not in saved:
                saved.add(s)
                added += nbytes[s]
        saved_bytes.append(added)
    return Activations(st.output_bytes, saved_bytes, sum(saved_bytes), inference_peak(report, st))


def saved_total(st: Storages) -> int:
    """The bytes of every storage some backward keeps, each once (activations().saved_total)."""
    nbytes = st.nbytes
    return sum(nbytes[s] for s in {s for kept in st.kept for s in kept})


def inference_peak(report, st: Storages) -> int:
    """The most activation bytes alive at once in inference (inference_live)."""
    start, moments = inference_live(report, st)
    return max([start, *moments])


def last_readers(report, st: Storages) -> dict[int, int]:
    """Each storage's last reader in the forward (a row's index); the network's outputs' is past the last
    row (they are returned)."""
    end = len(report.layers)
    last: dict[int, int] = {}
    for i, ins in enumerate(st.reads):
        for s in ins:
            last[s] = i
    for name in report.outputs:
        if (storage := st.of.get(name)) is not None:
            last[storage] = end
    return last


def inference_live(report, st: Storages) -> tuple[int, list[int]]:
    """The activation bytes alive at the start (the inputs) and at each layer's moment. Walks the layers
    in order: each output is allocated (unless it is a view, in place, or a parameter) while its inputs
    are still alive; a storage is freed after its last reader; the network's outputs stay to the end."""
    last = last_readers(report, st)
    live = {s for s in (st.of[name] for name in report.inputs) if s is not None}  # every input has one
    freed: dict[int, list[int]] = {}  # layer -> the storages freed after it: read for the last time, or never read
    for s in live:
        freed.setdefault(last.get(s, 0), []).append(s)
    for s, i in last.items():
        if s not in live:
            freed.setdefault(i, []).append(s)
    nbytes = st.nbytes
    current = start = sum(nbytes[s] for s in live)
    moments = []
    for i, mine in enumerate(st.outputs):
        if mine is not None and mine not in live:
            live.add(mine)
            current += nbytes[mine]
            if mine not in last:
                freed.setdefault(i, []).append(mine)
        moments.append(current)
        for s in freed.pop(i, ()):
            if s in live:
                live.discard(s)
                current -= nbytes[s]
    return start, moments


def checkpointed(report, layers, ctx: Context, dtype: str, st: Storages | None = None) -> int:
    """Saved bytes with activation checkpointing (at the segments): a checkpointed block keeps only its
    input, and its own saved tensors exist for one block at a time, while backward recomputes it.
    Layers outside those blocks keep theirs. `st`: the step's storages, when the caller has them."""
    st = st or storages(report, layers, ctx, dtype)
    blocks = segments(report)
    inside = {i for block in blocks for i in range(block.first, block.last + 1)}
    base: set[int] = set()
    for i, kept in enumerate(st.kept):
        if i not in inside:
            base.update(kept)
    for block in blocks:
        base |= {s for n in block.inputs if (s := st.of.get(n)) is not None}
    recompute = 0
    for block in blocks:
        own = set().union(*st.kept[block.first : block.last + 1]) - base
        recompute = max(recompute, sum(st.nbytes[s] for s in own))
    return sum(st.nbytes[s] for s in base) + recompute


def segments(report) -> list:
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
