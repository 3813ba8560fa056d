"""Memory: what a network needs to train or to run, from its Analysis. Pure: no I/O, no printing.

Activations are activations.py's, as PyTorch's autograd keeps them. Model states follow the ZeRO
paper (Rajbhandari et al., "ZeRO: Memory Optimizations Toward Training Trillion Parameter Models", 2020):
parameters, gradients and optimizer states (with fp32 master weights in mixed precision), partitioned
across data-parallel devices by stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import quant
from .activations import checkpointed, inference_peak, saved_total, storages
from .autocast import autocast_rows, pure_rows
from .errors import SpecError, did_you_mean
from .finetune import adam8bit_state
from .layers.base import DTYPE_BYTES, Context, prod
from .timeline import (
    LOSSES,
    OPTIMIZER_IMPLS,
    Step,
    StepInputs,
    inference_step,
    optimizer_temporary,
    step_timeline,
)

# what memory's JSON reports, in this order (serve's JSON uses the same keys, for scripts that read both)
COMPONENTS = (
    "parameters",
    "gradients",
    "optimizer_state",
    "master_weights",
    "saved_activations",
    "activations",
    "kv_cache",
)
# precision -> (bytes of weights, activations and gradients; of master weights; of optimizer state)
PRECISIONS = {
    "fp32": (4, 0, 4),
    "bf16": (2, 0, 2),
    "fp16": (2, 0, 2),
    "bf16-mixed": (2, 4, 4),
    "fp16-mixed": (2, 4, 4),
    "amp-bf16": (4, 0, 4),
    "amp-fp16": (4, 0, 4),
}
ACTIVATION_DTYPE = {
    "fp32": "float32",
    "bf16": "bfloat16",
    "fp16": "float16",
    "bf16-mixed": "bfloat16",
    "fp16-mixed": "float16",
    "amp-bf16": "float32",  # the inputs' and float32 ops'; autocast's 16-bit ops: see autocast.py
    "amp-fp16": "float32",
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
    "adamw8bit": (2, False),  # bitsandbytes' AdamW8bit: its own layout (finetune.adam8bit_state)
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
    loss: str | None = None  # None: by the last layer's output (see default_loss)
    optimizer_impl: str = "foreach"
    lora: int = 0  # adapters' rank over a frozen base (0: full fine-tuning); see finetune.py
    lora_targets: str | None = None  # glob patterns on layer names (None: finetune.DEFAULT_TARGETS)
    qlora: bool = False  # the frozen base's linears in NF4
    offload: str | None = None  # "optimizer" (ZeRO-Offload) or "params" (ZeRO-Infinity, optimizer too)

    def validate(self) -> None:
        """Bad combinations are bad input: a SpecError each (exit 2)."""
        for value, choices, what in (
            (self.precision, PRECISIONS, "precision"),
            (self.optimizer, OPTIMIZERS, "optimizer"),
            (self.attention, ATTENTION, "attention"),
            (self.device, DEVICES, "device"),
            (self.loss or "none", LOSSES, "loss"),
            (self.optimizer_impl, OPTIMIZER_IMPLS, "optimizer implementation"),
        ):
            if value not in choices:
                raise SpecError(
                    f"unknown {what} '{value}' (one of {', '.join(choices)})", hint=did_you_mean(value, choices)
                )
        if self.weights is not None and self.weights not in WEIGHT_BITS and self.weights not in quant.FORMATS:
            raise SpecError(
                f"unknown weight format '{self.weights}' (one of {', '.join(quant.FORMATS)})",
                hint=did_you_mean(self.weights, quant.FORMATS),
            )
        if self.zero not in (0, 1, 2, 3):
            raise SpecError(f"zero stage must be 0, 1, 2 or 3, found {self.zero}")
        if self.devices < 1:
            raise SpecError(f"devices must be at least 1, found {self.devices}")
        self._validate_finetune()
        if self.zero and self.devices == 1 and not self.offload:
            raise SpecError(
                f"ZeRO stage {self.zero} partitions across devices: give --devices N (N > 1; in a budget, devices: N)"
            )
        if self.weights is not None and self.train:
            raise SpecError("a weight format (int8, int4, fp8, ...) is for inference: add --inference")
        if self.zero and not self.train:
            raise SpecError("ZeRO partitions training state: drop --zero, or train")
        if self.checkpoint and not self.train:
            raise SpecError("activation checkpointing is for training: drop --checkpoint, or train")
        if self.loss is not None and not self.train:
            raise SpecError("a loss is computed in training: drop --loss, or train")

    def _validate_finetune(self) -> None:
        from .finetune import OFFLOADS

        if (self.lora_targets is not None or self.qlora) and not self.lora:
            raise SpecError("--lora-targets and --qlora go with adapters: give --lora RANK (e.g. --lora 16)")
        if (self.lora or self.offload or self.optimizer == "adamw8bit") and not self.train:
            raise SpecError("--lora, --offload and --optimizer adamw8bit are for training: drop --inference")
        if self.offload is not None and self.offload not in OFFLOADS:
            raise SpecError(
                f"unknown offload '{self.offload}' (one of {', '.join(OFFLOADS)})",
                hint=did_you_mean(self.offload, OFFLOADS),
            )
        if self.offload == "params" and self.zero != 3:
            raise SpecError("--offload params is ZeRO-Infinity's: it needs --zero 3")
        if self.offload == "optimizer" and not self.zero:
            raise SpecError("--offload optimizer is ZeRO-Offload's: it needs --zero 1, 2 or 3")

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
            "weights": self.weights
            or ("fp32" if self.precision in ("fp32", "amp-bf16", "amp-fp16") else self.precision.split("-")[0]),
            "attention": self.attention,
            "device": self.device,
            "optimizer_impl": self.optimizer_impl if self.train else None,
            "lora": self.lora,
            "lora_targets": (self.lora_targets or "*q_proj,*v_proj") if self.lora else None,
            "qlora": self.qlora,
            "offload": self.offload,
        }


@dataclass(frozen=True)
class Memory:
    name: str
    batch: int
    settings: dict
    components: dict[str, int]
    total: int
    per_device: int
    per_device_components: dict[str, int] = field(default_factory=dict)
    peak: Step | None = None  # training: the step's timeline, per device
    verdict: dict | None = None  # fits(), when a device's memory is given
    max_batch: int | None = None  # when asked
    show_timeline: bool = False
    host_components: dict[str, int] = field(default_factory=dict)  # offloaded to the host, per device
    max_seq: int | None = None  # when asked

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
            **(
                {"peak_bytes": self.peak.peak, "peak_phase": self.peak.phase, "peak_layer": self.peak.layer}
                if self.peak
                else {}
            ),
            **(self.verdict or {}),
            **({"max_batch": self.max_batch} if self.max_batch is not None else {}),
            **({"max_seq": self.max_seq} if self.max_seq is not None else {}),
            **({"timeline": [list(p) for p in self.peak.points]} if self.show_timeline and self.peak else {}),
            **(
                {"host_bytes": sum(self.host_components.values()), "host_components": self.host_components}
                if self.host_components
                else {}
            ),
        }


# ---------------------------------------------------------------- the whole bill


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def memory(analysis, settings: Settings) -> Memory:
    """What training (or inference) needs, by component, for one model replica and per device, from
    an Analysis (its report and the Layer of every row)."""
    report, layers = analysis.report, analysis.layers
    settings.validate()
    if settings.kv_cache and settings.train:
        raise SpecError("a KV cache is kept when decoding: add --inference")
    batch = settings.batch or report.batch
    ctx = Context(batch, settings.device, settings.attention)
    width, master_width, state_width = PRECISIONS[settings.precision]
    dtype = ACTIVATION_DTYPE[settings.precision]
    amp = (
        autocast_rows(report, layers, settings.device)
        if settings.precision.startswith("amp-")
        else pure_rows(layers)
        if width == 2
        else None
    )
    if not settings.train and settings.precision == "fp32" and settings.weights in ("bf16", "fp16"):
        dtype = ACTIVATION_DTYPE[settings.weights]  # 16-bit weights run, and cache keys and values, in 16 bits
    t = report.totals
    bits = WEIGHT_BITS.get(settings.weights or "", 8 * width)
    components = dict.fromkeys(COMPONENTS, 0)
    components["parameters"] = _ceil_div(t.params * bits, 8)
    if settings.weights in quant.FORMATS and settings.weights not in WEIGHT_BITS:  # as stored (quant.py)
        components["parameters"] = quant.weight_bytes(report, layers, settings.weights)
    adapters = frozen = None
    if settings.train and settings.lora:
        from . import finetune

        adapters = finetune.plan(report, layers, settings.lora, settings.lora_targets)
        frozen = finetune.frozen_saves(report, layers, adapters, ctx)
        if amp is not None:  # autocast caches 16-bit copies of trainable weights only: the adapters'
            amp = [
                a._replace(weight_copies=adapters.params(i) * 2 if a.weight_copies else 0) for i, a in enumerate(amp)
            ]
    if settings.train:
        per_param, step = OPTIMIZERS[settings.optimizer]
        if adapters is not None:
            sizes = adapters.sizes()
            trainable, tensors = sum(sizes), len(sizes)
            base = quant.weight_bytes(report, layers, "nf4") if settings.qlora else t.params * width
            components["parameters"] = base + trainable * width
        else:
            trainable = t.trainable
            # the parameter tensors' sizes (a layer's weight and bias; a tied weight once, where it is defined)
            sizes = [n for row in report.layers if row.trainable for n in (row.trainable - row.bias, row.bias) if n]
            tensors = sum(
                max(layer.param_tensors([tuple(s) for s in row.input_shapes]) - (1 if row.shared else 0), 0)
                for row, layer in zip(report.layers, layers)
                if row.trainable
            )
        components["gradients"] = trainable * width
        components["master_weights"] = trainable * master_width
        components["optimizer_state"] = (
            adam8bit_state(sizes)
            if settings.optimizer == "adamw8bit"
            else trainable * per_param * state_width + (tensors * STEP_BYTES if step else 0)
        )
        st = storages(report, layers, ctx, dtype, amp, frozen)  # read again by the step's timeline
        components["saved_activations"] = (
            checkpointed(report, layers, ctx, dtype, st if adapters else None)
            if settings.checkpoint
            else saved_total(st)
        )
    else:
        st = storages(report, layers, ctx, dtype, amp)
        components["activations"] = inference_peak(report, st)
    if settings.kv_cache:
        from .serve import kv_cache_bytes  # windowed, latent and state-space layouts (serve.py)

        components["kv_cache"] = kv_cache_bytes(report, layers, settings.kv_cache, DTYPE_BYTES[dtype]) * batch
    # ZeRO: stage 1 partitions optimizer states (master weights with them), 2 gradients too, 3 parameters too.
    partitioned = {"optimizer_state": 1, "master_weights": 1, "gradients": 2, "parameters": 3}
    per_device = {
        key: _ceil_div(value, settings.devices) if settings.zero >= partitioned.get(key, 4) else value
        for key, value in components.items()
    }
    host = _offload(report, settings, per_device, width, trainable) if settings.offload else {}
    as_run = settings.as_dict(batch)
    timeline = None
    if settings.train:
        as_run["loss"] = loss = settings.loss or default_loss(report)
        as_run["loss_default"] = settings.loss is None
        extra = None
        if adapters is not None:
            nf4 = finetune.nf4_linears(report, layers) if settings.qlora else {}
            extra = finetune.temporaries(adapters, batch, DTYPE_BYTES[dtype], nf4)
            report = finetune.frozen_report(report, adapters)
        timeline = _step(report, layers, settings, ctx, per_device, loss, amp, st, (sizes, extra))
    else:  # the forward under torch.no_grad(): parameters, buffers and the KV cache alive throughout
        at_rest = per_device["parameters"] + per_device["kv_cache"] + report.totals.buffers * 4
        timeline = inference_step(report, layers, ctx, dtype, at_rest, st, amp)
    return Memory(
        report.name,
        batch,
        as_run,
        components,
        sum(components.values()),
        sum(per_device.values()),
        per_device,
        timeline,
        host_components=host,
    )


def _offload(report, settings: Settings, per_device: dict, width: int, trainable: int) -> dict[str, int]:
    """What DeepSpeed moves to the host, per device, taken off per_device. ZeRO-Offload (offload_optimizer):
    the optimizer state and fp32 master weights, and a float32 copy of the gradients, which the CPU's Adam
    steps (DeepSpeedCPUAdam, in place). ZeRO-Infinity (offload_param, stage 3) the 16-bit parameters too:
    the device holds a layer's at a time, gathered for its forward and backward (the largest layer's)."""
    share = settings.devices if settings.zero else 1
    host = {
        "optimizer_state": per_device["optimizer_state"],
        "master_weights": per_device["master_weights"],
        "gradients": _ceil_div(trainable * 4, share),
    }
    per_device["optimizer_state"] = per_device["master_weights"] = 0
    if settings.offload == "params":
        host["parameters"] = per_device["parameters"]
        per_device["parameters"] = max((row.params - row.shared for row in report.layers), default=0) * width
    return host


def default_loss(report) -> str:
    """Cross-entropy for a network ending in class scores (one vector per sample), the causal-LM loss
    for one reading token ids and ending in a score per position and vocabulary entry, else none."""
    if not report.layers:
        return "none"
    out = report.layers[-1].output_shape
    if len(out) == 1 and report.layers[-1].kind == "linear":
        return "cross_entropy"
    tokens = any(row.kind == "embedding" and set(row.inputs) & set(report.inputs) for row in report.layers)
    return "causal_lm" if tokens and len(out) == 2 and report.layers[-1].kind == "linear" else "none"


def _step(report, layers, settings: Settings, ctx: Context, per_device: dict, loss: str, amp, st, trained) -> Step:
    """The training step's timeline on one device: at rest its share of parameters, master weights and
    optimizer state, the buffers, the inputs and labels; its gradients are what backward makes (a
    share of them with ZeRO-2 and -3, whose optimizer temporaries are a share too)."""
    width, _, state_width = PRECISIONS[settings.precision]
    share = settings.devices if settings.zero else 1
    sizes, extra = trained  # the trainable tensors' sizes; LoRA's temporaries, by row
    temporary = (
        0 if settings.offload else optimizer_temporary(settings.optimizer_impl, settings.optimizer, sizes, state_width)
    )
    at_rest = (
        per_device["parameters"]
        + per_device["master_weights"]
        + per_device["optimizer_state"]
        + report.totals.buffers * 4
        + _input_bytes(report, layers, ctx)
        + _label_bytes(report, ctx, loss)
    )
    return step_timeline(
        report,
        layers,
        ctx,
        ACTIVATION_DTYPE[settings.precision],
        StepInputs(
            at_rest,
            width,
            _ceil_div(temporary, share),
            loss,
            settings.devices if settings.zero >= 2 else 1,
            settings.checkpoint,
            extra,
        ),
        amp,
        st,
    )


def _input_bytes(report, layers, ctx: Context) -> int:
    from .analysis import token_inputs

    itemsize = 4
    tokens = token_inputs(report, layers)
    return sum(ctx.batch * prod(shape) * (8 if name in tokens else itemsize) for name, shape in report.inputs.items())


def _label_bytes(report, ctx: Context, loss: str) -> int:
    """The targets: a class index per sample, or a token id per position (int64)."""
    if loss == "cross_entropy":
        return ctx.batch * 8
    if loss == "causal_lm":
        return ctx.batch * prod(report.layers[-1].output_shape[:-1]) * 8
    return 0


# ---------------------------------------------------------------- will it fit

# What a framework and its allocator take on a GPU beyond live tensors: the CUDA context (its kernels
# and libraries, loaded lazily since CUDA 11.7) and the caching allocator's rounding and fragmentation.
# Not a measured figure (no GPU was at hand): a conservative 1 GiB, to be overridden with --reserve.
DEFAULT_RESERVE = {"cuda": 2**30, "cpu": 0}
MAX_SEARCH = 2**24  # the largest batch --max-batch tries


def needed(result: Memory) -> int:
    """The bytes one device needs at the step's worst moment (training) or in total (inference)."""
    return result.peak.peak if result.peak else result.per_device


def fits(result: Memory, gpu: int, reserve: int) -> dict:
    """The verdict on a device of `gpu` bytes, `reserve` of them taken by the framework."""
    need = needed(result) + reserve
    return {
        "gpu_bytes": gpu,
        "reserve_bytes": reserve,
        "needed_bytes": need,
        "fits": need <= gpu,
        "headroom_bytes": gpu - need,
    }


def largest(ok) -> int:
    """The largest n in 1..MAX_SEARCH with ok(n) (0: not even 1), by doubling then bisection, for an ok
    that holds up to some n and not beyond (the peak grows with the batch and the sequence)."""
    if not ok(1):
        return 0
    low = 1
    while low < MAX_SEARCH and ok(min(2 * low, MAX_SEARCH)):
        low = min(2 * low, MAX_SEARCH)
    high = min(2 * low, MAX_SEARCH + 1)
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if ok(mid) else (low, mid)
    return low


def max_batch(analysis, settings: Settings, gpu: int, reserve: int) -> int:
    """The largest batch whose step fits (0: not even 1), by doubling then bisection: the peak grows with
    the batch."""
    from dataclasses import replace

    def ok(batch: int) -> bool:
        return needed(memory(analysis, replace(settings, batch=batch))) + reserve <= gpu

    return largest(ok)


# ---------------------------------------------------------------- the picture (render/plot.py draws it)

SERIES = ("parameters", "optimizer state", "KV cache", "gradients", "activations", "temporaries")


@dataclass(frozen=True)
class Plot:
    """The live bytes over time by what they are: each moment of the training step (inference: each
    layer's forward) as its (phase, layer), and each series' bytes there, stacked in SERIES' order
    (only those with bytes somewhere); their sum at a moment is the timeline's live bytes."""

    moments: list[tuple[str, str]]
    series: dict[str, list[int]]
    peak: int  # the moment with the most bytes alive (the first, if several)
    gpu: int | None  # the device's memory (--gpu), when given
    reserve: int  # of it, taken by the framework (--reserve)


def plot(analysis, result: Memory) -> Plot:
    """What `memory --plot` draws. Training: at rest, the parameters (with the buffers) and the
    optimizer state (with the master weights) throughout; gradients as backward makes and frees them;
    activations (the inputs and labels, outputs and what backward keeps, the loss's tensors); and each
    moment's temporaries (kernels', a second gradient before it is added, the optimizer's). Inference:
    parameters (with the buffers) and the KV cache throughout, the activations (the inputs
    included) alive at each layer, and its kernel's temporaries."""
    report, c = analysis.report, result.per_device_components
    step = result.peak  # (memory() makes one, in training and in inference)
    parts = (step.parts or []) if step else []
    points = step.points if step else []
    moments = [(p.phase, p.layer) for p in points]
    totals = [p.live for p in points]
    start = step.start if step else 0
    if result.settings["mode"] == "train":
        ctx = Context(result.batch, result.settings["device"], result.settings["attention"])
        inputs = _input_bytes(report, analysis.layers, ctx) + _label_bytes(report, ctx, result.settings["loss"])
        optimizer = c["optimizer_state"] + c["master_weights"]
        series = {
            "parameters": [start - optimizer - inputs] * len(moments),
            "optimizer state": [optimizer] * len(moments),
            "gradients": [grads for grads, _ in parts],
            "activations": [p.live - temps - start - grads + inputs for p, (grads, temps) in zip(points, parts)],
            "temporaries": [temps for _, temps in parts],
        }
    else:  # at rest: the parameters and buffers, and the KV cache; the inputs are activations
        series = {
            "parameters": [start - c["kv_cache"]] * len(moments),
            "KV cache": [c["kv_cache"]] * len(moments),
            "activations": [p.live - temps - start for p, (_, temps) in zip(points, parts)],
            "temporaries": [temps for _, temps in parts],
        }
    shown = {name: series[name] for name in SERIES if name in series and any(series[name])}
    verdict = result.verdict or {}
    return Plot(
        moments,
        shown,
        totals.index(max(totals)) if totals else 0,
        verdict.get("gpu_bytes"),
        verdict.get("reserve_bytes", 0),
    )


def max_seq(spec, settings: Settings, gpu: int, reserve: int) -> int:
    """The longest sequence whose step (or inference) fits (0: not even 1): the spec's token inputs, and
    every input of as many positions, set to each length tried, by doubling then bisection."""
    import dataclasses

    from .analysis import Analysis

    probe = Analysis.of(spec, receptive_fields=False, activations=False)
    tokens = probe.token_inputs()
    if not tokens:
        raise SpecError("--max-seq varies a sequence of token ids: this spec reads none (use --max-batch)")
    length = spec.inputs[next(iter(tokens))][0]

    def ok(n: int) -> bool:
        inputs = {k: (n, *s[1:]) if s and s[0] == length else s for k, s in spec.inputs.items()}
        analysis = Analysis.of(dataclasses.replace(spec, inputs=inputs), receptive_fields=False, activations=False)
        return needed(memory(analysis, settings)) + reserve <= gpu

    return largest(ok)
