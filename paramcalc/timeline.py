"""One training step as a timeline of live bytes: forward, loss, backward, optimizer step. Pure: no I/O.

What is alive at rest (parameters, buffers, optimizer state, inputs and labels) is alive throughout.
Forward: each layer's output and the new tensors its backward keeps are allocated, with its kernel's
temporaries for the moment it runs; a storage is freed after its last reader unless a backward keeps it.
The loss: as PyTorch's F.cross_entropy (log_softmax, whose float32 output it keeps, then nll_loss) or as
Hugging Face's causal-LM loss (the logits upcast to float32, the labels shifted, then cross-entropy).
Backward, layer by layer in reverse: the gradient of each input that needs one and of the layer's
parameters is allocated, with its kernel's temporaries; then the gradient of its output and the tensors
no earlier layer still keeps are freed. A view's gradient is a view of its output's; a second gradient
for a tensor is added in place. The step: every gradient alive, with the temporaries of the optimizer's
PyTorch implementation. The peak is the most bytes alive at any moment, with the phase and layer there.
"""

from __future__ import annotations

from typing import NamedTuple

from .activations import Amp, last_readers, segments, storages
from .layers.base import DTYPE_BYTES, Context, prod

PHASES = ("forward", "loss", "backward", "step")
LOSSES = ("none", "cross_entropy", "causal_lm")
OPTIMIZER_IMPLS = ("foreach", "for-loop", "fused")
NLL_SCALARS = 8  # nll_loss's float32 result and total_weight


class Point(NamedTuple):
    phase: str
    layer: str
    live: int  # bytes alive at this moment


class Step(NamedTuple):
    peak: int
    phase: str
    layer: str
    points: list[Point]  # the live bytes at each layer's worst moment, in order
    end: int  # alive when backward is done: what is at rest, and the gradients
    start: int = 0  # alive at rest (StepInputs.at_rest)
    parts: list[tuple[int, int]] | None = None  # of each point's bytes: (gradients, the moment's temporaries)


class StepInputs(NamedTuple):
    """What the step needs beyond the analysis: bytes alive at rest (parameters, buffers, optimizer
    state, inputs, labels), the gradients' element width, the optimizer's temporaries and the loss."""

    at_rest: int
    grad_width: int
    optimizer_temporary: int
    loss: str = "none"
    grad_share: int = 1  # ZeRO-2 and -3 keep 1/devices of the parameters' gradients
    checkpoint: bool = False
    extra: dict[int, tuple[int, int]] | None = None  # row -> more forward and backward temporaries (LoRA)


def optimizer_temporary(impl: str, optimizer: str, param_sizes: list[int], width: int) -> int:
    """The bytes an optimizer's step allocates beyond its state, as torch.optim's implementations do:
    foreach Adam(W) takes sqrt(exp_avg_sq) of every parameter at once (one copy of all of them); the
    for-loop version, per parameter, sqrt() and the division by its bias correction (twice the largest);
    fused kernels and SGD (with or without momentum, no weight decay) work in place."""
    if optimizer not in ("adam", "adamw", "rmsprop", "adagrad") or impl == "fused" or not param_sizes:
        return 0
    if impl == "foreach":
        return sum(param_sizes) * width
    return 2 * max(param_sizes) * width


class _Walk:
    """The running count of live bytes, with the most seen and where."""

    def __init__(self, start: int):
        self.live = start
        self.grads = 0  # of the live bytes, the gradients' (of activations and parameters)
        self.peak, self.phase, self.layer = start, "forward", ""
        self.points: list[Point] = []
        self.parts: list[tuple[int, int]] = []

    def grad(self, nbytes: int) -> None:
        """Gradients made (or, negative, freed)."""
        self.live += nbytes
        self.grads += nbytes

    def mark(self, phase: str, layer: str, extra: int = 0) -> None:
        """A moment: what is alive now, plus `extra` bytes alive only for it (a kernel's temporaries)."""
        now = self.live + extra
        self.points.append(Point(phase, layer, now))
        self.parts.append((self.grads, extra))
        if now > self.peak:
            self.peak, self.phase, self.layer = now, phase, layer


def step_timeline(
    report, layers, ctx: Context, dtype: str, inputs: StepInputs, amp: list[Amp] | None = None, st=None
) -> Step:
    """The step's live bytes over time for the analysed network (`layers`: the Layer of every row);
    `amp`: under autocast, each row's widths (autocast.autocast_rows), else every activation is dtype;
    `st`: activations.storages() at these settings, when the caller has them."""
    st = st or storages(report, layers, ctx, dtype, amp)
    walk = _Walk(inputs.at_rest)
    holding = _holding(report, st, segments(report) if inputs.checkpoint else [])
    itemsize = DTYPE_BYTES[dtype]
    widths = dict.fromkeys(report.inputs, itemsize)
    widths.update((row.name, amp[i].out if amp else itemsize) for i, row in enumerate(report.layers))
    temporaries = [
        kernel_temporaries(row, layer, ctx.batch, amp[i].act if amp else itemsize, ctx.device)
        for i, (row, layer) in enumerate(zip(report.layers, layers))
    ]
    for i, (fwd, bwd) in (inputs.extra or {}).items():
        temporaries[i] = (temporaries[i][0] + fwd, temporaries[i][1] + bwd)
    _forward(report, st, holding.held, walk, temporaries)
    grads = _Grads(report, layers, st)
    last = amp[-1].out if amp else itemsize
    grads.start(_loss(report, st, holding.held, walk, inputs.loss, ctx, last))
    grads.backward(report, layers, st, holding, walk, inputs, widths, ctx.batch, temporaries)
    walk.mark("step", "optimizer", inputs.optimizer_temporary)
    return Step(walk.peak, walk.phase, walk.layer, walk.points, walk.live, inputs.at_rest, walk.parts)


class _Holding(NamedTuple):
    """Which activation storages forward holds for backward, and when backward frees or remakes them."""

    held: set[int]  # not freed after their last reader in forward
    frees: dict[int, list[int]]  # layer -> the storages freed once its backward has run
    remade: dict[int, int]  # layer -> bytes its checkpointed block's recomputation makes before its backward


def _holding(report, st, segments) -> _Holding:
    """Without checkpointing, what a backward keeps is held until the first layer keeping it has run
    backward. A checkpointed block (`segments`) runs forward keeping only its inputs; its backward first
    runs it again, making what its layers keep (freed as without checkpointing)."""
    first: dict[int, int] = {}
    for i in range(len(st.kept) - 1, -1, -1):
        for s in st.kept[i]:
            first[s] = i
    inside = {i: block for block in segments for i in range(block.first, block.last + 1)}
    outside = {s for i, kept in enumerate(st.kept) if i not in inside for s in kept}
    # a tensor kept in several blocks (RoPE's tables) is made once and held, not made again per block
    blocks_keeping: dict[int, set[int]] = {}
    for i, block in inside.items():
        for s in st.kept[i]:
            blocks_keeping.setdefault(s, set()).add(block.first)
    outside |= {s for s, blocks in blocks_keeping.items() if len(blocks) > 1}
    at_rest = {st.of[name] for name in report.inputs}
    held = set(first) if not segments else set(outside)
    remade: dict[int, int] = {}
    for block in segments:
        block_inputs = {s for n in block.inputs if (s := st.of.get(n)) is not None}
        for s in block_inputs:
            held.add(s)
            first[s] = min(first.get(s, block.first), block.first)
        own = {s for kept in st.kept[block.first : block.last + 1] for s in kept} - outside - block_inputs
        remade[block.last] = sum(st.nbytes[s] for s in own)
    frees: dict[int, list[int]] = {}
    for s, i in first.items():
        if s not in at_rest:
            frees.setdefault(i, []).append(s)
    return _Holding(held, frees, remade)


def _forward(report, st, held: set[int], walk: _Walk, temporaries) -> None:
    last_read: dict[int, int] = {}
    for i, ins in enumerate(st.reads):
        for s in ins:
            last_read[s] = i
    stay = {st.of[name] for name in (*report.outputs, *report.inputs) if st.of.get(name) is not None}
    nbytes = st.nbytes
    created = len(report.inputs)
    for i, row in enumerate(report.layers):
        made = [s for s in (st.outputs[i], *st.kept[i]) if s is not None and s >= created]
        new = range(created, max(made) + 1 if made else created)
        walk.live += sum(nbytes[s] for s in new)
        created = new.stop
        walk.mark("forward", row.name, temporaries[i][0])
        for s in {*st.reads[i], *new}:
            if s not in stay and s not in held and last_read.get(s, i) <= i:
                walk.live -= nbytes[s]


def _loss(report, st, held: set[int], walk: _Walk, loss: str, ctx: Context, itemsize: int) -> int:
    """The loss on the network's last output; returns the bytes of the gradient it hands backward."""
    shape = report.layers[-1].output_shape
    logits = st.output_bytes[-1]
    if loss == "none":  # backward starts from a gradient of the output's size
        walk.mark("loss", "none")
        return logits
    log_probs = logits // itemsize * 4  # log_softmax's float32 output, kept by nll_loss
    upcast = log_probs if itemsize != 4 else 0  # .float() of 16-bit logits, alive during the loss
    labels = padded = 0
    if loss == "causal_lm":  # labels padded by one ignored position, shifted: the copy is kept by nll_loss
        positions = ctx.batch * prod(shape[:-1])
        labels, padded = positions * 8, (positions + ctx.batch * prod(shape[:-2])) * 8
    walk.live += log_probs + labels + NLL_SCALARS
    walk.mark("loss", loss, upcast + padded)
    out = st.outputs[-1]
    if out is not None and out not in held:  # the logits, unless a backward keeps them
        walk.live -= st.nbytes[out]
    # its backward: nll_loss's gradient (zeros, then scattered), log_softmax's, then the cast back
    walk.mark("backward", loss, 2 * log_probs)
    walk.live -= log_probs + labels + NLL_SCALARS
    if upcast:
        walk.mark("backward", loss, log_probs + logits)
    return logits


def kernel_temporaries(row, layer, batch: int, itemsize: int, device: str) -> tuple[int, int]:
    """The bytes a layer's forward and backward kernels allocate and free while they run, measured on
    the CPU's reference kernels (oneDNN off) by tests/generate_peak_fixture.py's cases: a convolution
    unfolds its input (im2col: C_in·Π kernel rows, one column per output position, for the whole batch)
    unless it is 1×1 with stride 1 and no padding, and a grouped one runs group by group and
    concatenates (an output's worth forward, an input's and a weight's worth backward); batch norm's
    backward takes one more tensor of its input's size, RMSNorm's (composite on the CPU) three. On CUDA
    the kernels' workspaces are the library's choice (cuDNN, cuBLAS): none are counted."""
    if device != "cpu":
        return 0, 0
    kind = row.kind
    out = batch * prod(row.output_shape) * itemsize
    if kind in ("conv1d", "conv2d", "conv3d"):
        if layer.groups > 1:
            return out, batch * prod(row.input_shapes[0]) * itemsize + row.weights * itemsize
        padded = layer.padding == "same" if isinstance(layer.padding, str) else any(layer.padding)
        if all(k == 1 for k in layer.kernel) and all(st == 1 for st in layer.stride) and not padded:
            return 0, 0  # a 1x1 convolution reads its input as it is
        columns = out // layer.out * row.input_shapes[0][0] * prod(layer.kernel)
        return columns, columns
    if kind.startswith("batchnorm"):
        return 0, out
    if kind == "rmsnorm":
        return 0, 3 * out
    return 0, 0


class _Grads:
    """The gradients of activations during backward, by tensor name: each a storage, shared by a view's
    input and output, freed once every tensor sharing it has been through its producer's backward."""

    def __init__(self, report, layers, st):
        last_row = {block.name: report.layers[block.last].name for block in report.blocks}
        self.names = [[n if n in st.of else last_row[n] for n in row.inputs] for row in report.layers]
        self.needs: dict[str, bool] = dict.fromkeys(report.inputs, False)
        for i, row in enumerate(report.layers):
            parameter = st.outputs[i] is None and st.output_bytes[i] == 0
            self.needs[row.name] = row.trainable > 0 or (not parameter and any([self.needs[n] for n in self.names[i]]))
        self.of: dict[str, int] = {}  # tensor name -> gradient storage
        self.nbytes: list[int] = []
        self.holders: list[set[str]] = []

    def start(self, nbytes: int) -> None:
        self.first = nbytes

    def new(self, name: str, nbytes: int) -> int:
        self.of[name] = len(self.nbytes)
        self.nbytes.append(nbytes)
        self.holders.append({name})
        return nbytes

    def backward(
        self, report, layers, st, holding: _Holding, walk: _Walk, inputs: StepInputs, widths, batch: int, temporaries
    ) -> None:
        width, share = inputs.grad_width, inputs.grad_share
        if report.layers:
            walk.grad(self.new(report.layers[-1].name, self.first))
        for i in range(len(report.layers) - 1, -1, -1):
            row, layer = report.layers[i], layers[i]
            if st.outputs[i] is None and st.output_bytes[i] == 0:  # a parameter: its gradient, once
                walk.grad(-(-row.trainable * width // share))
                walk.mark("backward", row.name)
                continue
            walk.live += holding.remade.get(i, 0)
            g = self.of.get(row.name)
            if g is None or not self.needs[row.name]:
                continue  # nothing flows back through it
            view = (
                st.outputs[i] is not None
                and st.outputs[i] == st.of.get(self.names[i][0])
                and not getattr(layer, "inplace", False)
            )
            added, transient = 0, 0
            for j, n in enumerate(self.names[i]):
                if not self.needs[n] or st.of.get(n) is None:
                    continue  # no gradient, or a parameter's (counted as the parameter's row runs)
                size = batch * prod(row.input_shapes[j]) * widths[n]
                if n in self.of:
                    transient += 0 if view and j == 0 else size  # a second gradient, added in place
                elif view and j == 0:
                    self.of[n] = g
                    self.holders[g].add(n)
                else:
                    added += self.new(n, size)
            added += -(-row.trainable * width // share)
            walk.grad(added)
            walk.mark("backward", row.name, transient + row.shared * width + temporaries[i][1])
            self.holders[g].discard(row.name)
            if not self.holders[g]:
                walk.grad(-self.nbytes[g])
            walk.live -= sum(st.nbytes[s] for s in holding.frees.get(i, ()))


def inference_step(report, layers, ctx: Context, dtype: str, at_rest: int, st, amp: list[Amp] | None = None) -> Step:
    """The forward alone, as eval() under torch.no_grad() runs it: alive throughout `at_rest` (parameters,
    buffers, a KV cache) and the inputs (the caller holds them); each layer's output allocated while its
    inputs are alive, with its kernel's forward temporaries while it runs (a view, an in-place layer or a
    parameter allocates nothing); a storage freed after its last reader (not counted: a Python frame
    holding a block's input until the block returns, as torchvision's InvertedResidual does, 1.5% of
    MobileNetV2's measured peak); the network's outputs kept to the end."""
    last = last_readers(report, st)
    live = {s for s in (st.of[name] for name in report.inputs) if s is not None}  # the caller holds them
    freed: dict[int, list[int]] = {}  # layer -> the storages freed after it: read for the last time, or never read
    for s, i in last.items():
        if s not in live:
            freed.setdefault(i, []).append(s)
    walk = _Walk(at_rest + sum(st.nbytes[s] for s in live))
    itemsize = DTYPE_BYTES[dtype]
    for i, (row, layer) in enumerate(zip(report.layers, layers)):
        mine = st.outputs[i]
        if mine is not None and mine not in live:
            live.add(mine)
            walk.live += st.nbytes[mine]
            if mine not in last:
                freed.setdefault(i, []).append(mine)
        walk.mark(
            "forward",
            row.name,
            kernel_temporaries(row, layer, ctx.batch, amp[i].act if amp else itemsize, ctx.device)[0],
        )
        for s in freed.pop(i, ()):
            if s in live:
                live.discard(s)
                walk.live -= st.nbytes[s]
    return Step(walk.peak, walk.phase, walk.layer, walk.points, walk.live, at_rest, walk.parts)
