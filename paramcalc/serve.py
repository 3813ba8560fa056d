"""Serving: the memory of a model as inference engines run it. Pure: no I/O, no printing.

Paged engines (vLLM, TGI) load the weights, profile one forward pass of the largest chunk of tokens a
step may process, and give what is left of `gpu_memory_utilization` of the device to a pool of KV-cache
blocks of `block_size` positions. A sequence holds whole blocks. The layouts (vLLM v1,
vllm/v1/kv_cache_interface.py, commit 001cabc1; vllm/v1/core/kv_cache_utils.py):

- full attention (FullAttentionSpec): 2 · kv_heads · head_dim values per position and layer, in
  ⌈S / block⌉ blocks;
- sliding-window attention (SlidingWindowSpec): at most ⌈min(window − 1 + chunk, S) / block⌉ + 1 blocks;
- multi-head latent attention (MLAAttentionSpec, DeepSeek-V2/V3): one latent of kv_lora_rank plus the
  rope key of qk_rope_head_dim per position and layer (no separate keys and values);
- state-space layers (MambaSpec): their convolution and SSM states, one page per sequence, whatever S.

A layer kind says how it caches through `kv_cache_layout(shapes) -> Cache` where it defines one (the
interface hfmodels' attention, MLA and Mamba kinds are expected to answer); otherwise a kind with
`kv_cache(shapes)` (values per position) is full attention, windowed where it has a `window` (or
`sliding_window`) attribute, latent where it has `kv_lora_rank` (with `qk_rope_head_dim`).
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

from . import quant
from .activations import inference_peak, storages
from .errors import SpecError, did_you_mean
from .layers.base import DTYPE_BYTES, Context, prod
from .memory import COMPONENTS

# KV-cache dtypes -> bytes per value (fp8: vLLM's fp8_e4m3 with one scale per layer, not counted)
KV_DTYPES = {"fp32": 4, "bf16": 2, "fp16": 2, "fp8": 1}
TORCH_DTYPE = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


class Cache(NamedTuple):
    """What one layer keeps per sequence: `per_token` values per cached position (full, window, mla),
    at most `window` positions (window), or `state` values per sequence whatever its length (state)."""

    layout: str  # "full", "window", "mla" or "state"
    per_token: int = 0
    window: int | None = None
    state: int = 0


def layer_cache(layer, shapes) -> Cache | None:
    """How a layer caches, or None where it keeps nothing between steps."""
    if hasattr(layer, "kv_cache_layout"):
        return layer.kv_cache_layout(shapes)
    if not hasattr(layer, "kv_cache"):
        return None
    if getattr(layer, "latent_cache", None) is not None:  # the attention kind's latent (DeepSeek's MLA)
        return Cache("mla", layer.kv_cache(shapes))
    if getattr(layer, "state_cache", False):  # a state-space layer's convolution and SSM states
        return Cache("state", state=layer.kv_cache_elements(shapes, 1))
    rank = getattr(layer, "kv_lora_rank", None)
    if rank:
        return Cache("mla", rank + (getattr(layer, "qk_rope_head_dim", None) or 0))
    per_token = layer.kv_cache(shapes)
    if not per_token:  # (the base Layer's: it caches nothing)
        return None
    window = getattr(layer, "window", None) or getattr(layer, "sliding_window", None)
    return Cache("window", per_token, window) if window else Cache("full", per_token)


def caches(report, layers, tp: int = 1) -> list[tuple[str, Cache]]:
    """Every caching layer of the network, by row name; with tp > 1 one tensor-parallel rank's share: its
    key/value heads (vLLM: max(1, kv_heads // tp), replicated where fewer than tp), a latent cache whole
    (MLA's latent is not split by head), a state-space layer's states split by head."""
    out = []
    for row, layer in zip(report.layers, layers):
        cache = layer_cache(layer, [tuple(s) for s in row.input_shapes])
        if cache is None:
            continue
        if tp > 1 and cache.layout in ("full", "window"):
            kv = getattr(layer, "kv_heads", None) or getattr(layer, "heads", None) or 1
            if kv > tp and kv % tp:
                raise SpecError(
                    f"layer '{row.name}': tensor parallelism over {tp} must divide its {kv} key/value heads"
                )
            cache = cache._replace(per_token=cache.per_token // kv * max(1, kv // tp))
        elif tp > 1 and cache.layout == "state":
            cache = cache._replace(state=_cdiv(cache.state, tp))
        out.append((row.name, cache))
    return out


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def cached_positions(cache: Cache, seq: int, chunk: int) -> int:
    """Positions a layer holds for a sequence of `seq` (a windowed layer: the window and the chunk
    being written, as vLLM's SlidingWindowSpec.max_memory_usage_bytes counts them)."""
    if cache.layout == "window":
        return min((cache.window or seq) - 1 + chunk, seq)
    return seq


def sequence_bytes(cache: Cache, seq: int, chunk: int, block: int, kv_bytes: int, state_bytes: int) -> int:
    """One layer's bytes for one sequence, in whole blocks as vLLM allocates them."""
    if cache.layout == "state":
        return cache.state * state_bytes
    blocks = _cdiv(cached_positions(cache, seq, chunk), block) + (cache.layout == "window")
    return blocks * block * cache.per_token * kv_bytes


def kv_cache_bytes(report, layers, seq: int, kv_bytes: int, state_bytes: int | None = None) -> int:
    """One sequence's cache of `seq` positions, unpaged (memory's --kv-cache): a windowed layer holds
    at most its window, a latent layer its latent and rope key, a state-space layer its states."""
    total = 0
    for _, c in caches(report, layers):
        if c.layout == "state":
            total += c.state * (state_bytes or kv_bytes)
        else:
            total += min(seq, c.window or seq) * c.per_token * kv_bytes
    return total


@dataclasses.dataclass(frozen=True)
class ServeSettings:
    seq: int | None = None  # context per sequence (None: the spec's input length)
    concurrency: int | None = None  # sequences served at once (None with gpu: the most that fit)
    gpu: int | None = None  # device bytes
    prefill_tokens: int | None = None  # tokens one prefill step processes (None: min(seq, 2048))
    block_size: int = 16
    gpu_memory_utilization: float = 0.9
    weights: str = "bf16"
    group_size: int = 128
    kv_dtype: str | None = None  # None: the activations'
    attention: str = "flash"
    device: str = "cuda"
    tp: int = 1  # tensor-parallel devices, each holding its share

    def validate(self) -> None:
        quant.check_format(self.weights)
        if self.tp < 1:
            raise SpecError(f"--tp must be at least 1, found {self.tp}")
        if self.kv_dtype is not None and self.kv_dtype not in KV_DTYPES:
            raise SpecError(
                f"unknown KV-cache dtype '{self.kv_dtype}' (one of {', '.join(KV_DTYPES)})",
                hint=did_you_mean(self.kv_dtype, KV_DTYPES),
            )
        for value, what in ((self.seq, "--seq"), (self.prefill_tokens, "--prefill-tokens")):
            if value is not None and value < 1:
                raise SpecError(f"{what} must be at least 1, found {value}")
        if self.block_size < 1:
            raise SpecError(f"--block-size must be at least 1, found {self.block_size}")
        if self.concurrency is not None and self.concurrency < 1:
            raise SpecError(f"--concurrency must be at least 1, found {self.concurrency}")
        if self.concurrency is None and self.gpu is None:
            raise SpecError("serving needs --concurrency N (sequences at once) or --gpu BYTES (then the most that fit)")
        if not 0 < self.gpu_memory_utilization <= 1:
            raise SpecError(f"--gpu-memory-utilization must be in (0, 1], found {self.gpu_memory_utilization}")

    @property
    def activation_dtype(self) -> str:
        """fp32 weights run in fp32; 16-bit weights in their dtype; quantised ones dequantise to bf16."""
        return self.weights if self.weights in TORCH_DTYPE else "bf16"


def refuse_training_options(given: dict, mode: str = "--serve") -> None:
    """Options another mode reads are refused, not ignored."""
    for option, value in given.items():
        if value:
            hint = {"--kv-cache": " (use --seq)", "--precision": " (use --weights)"}.get(option, "")
            raise SpecError(f"{option} is not a {mode} option: drop it{hint}")


def _one_sequence(spec, length: int):
    """The spec with its inputs' positions set to `length`: the first dim of the first input, and of every
    input of as many positions (GPT-2's tokens and positions)."""
    if not spec.inputs:
        raise SpecError("serving reads an input of token positions; this spec has none")
    first = next(iter(spec.inputs.values()))
    if not first:
        raise SpecError("serving reads an input of token positions; this spec's input is a scalar")
    inputs = {
        name: (length, *shape[1:]) if shape and shape[0] == first[0] else shape for name, shape in spec.inputs.items()
    }
    return dataclasses.replace(spec, inputs=inputs)


def step_peak(spec, length: int, batch: int, settings: ServeSettings, analysis=None) -> int:
    """The activation peak of one forward step of `batch` sequences of `length` new positions, with the
    logits of the last position only (Hugging Face's logits_to_keep=1, vLLM's sampler): a network
    output whose first dim is the positions keeps one of them. `analysis`: the spec's at `length`."""
    from .analysis import Analysis

    if analysis is None:
        analysis = Analysis.of(_one_sequence(spec, length), receptive_fields=False, activations=False)
    report = analysis.report
    ctx = Context(batch, settings.device, settings.attention)
    dtype = TORCH_DTYPE[settings.activation_dtype]
    st = storages(report, analysis.layers, ctx, dtype)
    for name, shape in report.outputs.items():
        storage = st.of.get(name)
        if storage is not None and shape and shape[0] == length and length > 1:
            st.nbytes[storage] = batch * prod(shape[1:]) * DTYPE_BYTES[dtype]
    return inference_peak(report, st)


class Serving(NamedTuple):
    name: str
    settings: dict
    components: dict[str, int]
    total: int
    kv_cache_per_token: int  # bytes, unrounded, over every layer (windowed layers: while within the window)
    kv_cache_per_sequence: int  # in whole blocks
    kv_cache_per_block: int  # block_size positions over every layer that caches per position
    kv_blocks: int  # per sequence; with gpu, the pool's
    max_sequences: int | None
    prefill_peak: int
    decode_peak: int
    budget: int | None  # gpu · gpu_memory_utilization
    layouts: dict[str, int]  # layout -> layers

    @property
    def fits(self) -> bool | None:
        return None if self.budget is None else self.total <= self.budget

    def to_dict(self) -> dict:
        """Keys of `paramcalc memory --serve`'s JSON, added to memory's contract (all bytes)."""
        return {
            "schema_version": 1,
            "name": self.name,
            "batch": self.settings["concurrency"],
            "settings": self.settings,
            "components": self.components,
            "total": self.total,
            "per_device": self.total,
            "per_device_components": self.components,
            "kv_cache_per_token": self.kv_cache_per_token,
            "kv_cache_per_sequence": self.kv_cache_per_sequence,
            "kv_cache_per_block": self.kv_cache_per_block,
            "kv_blocks": self.kv_blocks,
            "max_sequences": self.max_sequences,
            "prefill_peak": self.prefill_peak,
            "decode_peak": self.decode_peak,
            "budget": self.budget,
            "fits": self.fits,
            "kv_layouts": self.layouts,
            # memory --inference's keys: the total is the worst step's (weights, cache, its activations)
            "peak_bytes": self.total,
            "peak_phase": "prefill" if self.prefill_peak >= self.decode_peak else "decode",
            "peak_layer": None,
        }


def serve(spec, settings: ServeSettings) -> Serving:
    """Weights, KV cache and activation peaks for `concurrency` sequences of `seq` positions, or the
    most sequences that fit `gpu` · `gpu_memory_utilization`. With tp > 1, per device: the weights' and
    the cache's share of one rank; the activation peaks are the whole step's (not split: an upper bound)."""
    from .analysis import Analysis

    settings.validate()
    _one_sequence(spec, 1)  # (its checks)
    seq = settings.seq or next(iter(spec.inputs.values()))[0]
    analysis = Analysis.of(_one_sequence(spec, seq), receptive_fields=False, activations=False)
    report, layers = analysis.report, analysis.layers
    chunk = min(settings.prefill_tokens or 2048, seq)
    from .parallel import residual_width

    tp = settings.tp
    weights = quant.weight_bytes(
        report, layers, settings.weights, settings.group_size, tp, residual_width(report, layers)
    )
    kv_name = settings.kv_dtype or settings.activation_dtype
    kv_bytes = KV_DTYPES[kv_name]
    state_bytes = KV_DTYPES[settings.activation_dtype]
    block = settings.block_size
    cached = caches(report, layers, tp)
    if not cached:
        raise SpecError("this network caches nothing between steps (no attention or state-space layer) to serve")
    per_sequence = sum(sequence_bytes(c, seq, chunk, block, kv_bytes, state_bytes) for _, c in cached)
    positional = [c for _, c in cached if c.layout != "state"]
    per_token = sum(c.per_token for c in positional) * kv_bytes
    per_block = block * per_token
    paged = sum(sequence_bytes(c, seq, chunk, block, kv_bytes, 0) for c in positional)
    blocks_per_sequence = _cdiv(paged, per_block) if positional else 0
    prefill = step_peak(spec, chunk, 1, settings)
    budget = int(settings.gpu * settings.gpu_memory_utilization) if settings.gpu is not None else None

    decoding = Analysis.of(_one_sequence(spec, 1), receptive_fields=False, activations=False)

    def bill(n: int) -> int:
        return weights + n * per_sequence + max(prefill, step_peak(spec, 1, n, settings, decoding))

    most = None
    if budget is not None:
        most = _most(bill, budget, per_sequence)
    n = settings.concurrency if settings.concurrency is not None else max(most or 0, 1)
    decode = step_peak(spec, 1, n, settings, decoding)
    components = dict.fromkeys(COMPONENTS, 0)  # memory's JSON keys, for scripts that read both
    components.update(parameters=weights, kv_cache=n * per_sequence, activations=max(prefill, decode))
    layouts: dict[str, int] = {}
    for _, c in cached:
        layouts[c.layout] = layouts.get(c.layout, 0) + 1
    pool = (budget - weights - max(prefill, decode)) // per_block if budget is not None and per_block else None
    return Serving(
        report.name,
        {
            "mode": "serve",
            "seq": seq,
            "concurrency": n,
            "prefill_tokens": chunk,
            "block_size": block,
            "gpu": settings.gpu,
            "gpu_memory_utilization": settings.gpu_memory_utilization,
            "weights": settings.weights,
            "group_size": settings.group_size,
            "activations_dtype": settings.activation_dtype,
            "kv_dtype": kv_name,
            "attention": settings.attention,
            "device": settings.device,
            "tp": tp,
        },
        components,
        sum(components.values()),
        per_token,
        per_sequence,
        per_block,
        max(pool, 0) if pool is not None else blocks_per_sequence * n,
        most,
        prefill,
        decode,
        budget,
        layouts,
    )


def _most(bill, budget: int, per_sequence: int) -> int:
    """The largest n with bill(n) <= budget (bill grows with n), by bisection."""
    if bill(0) > budget:
        return 0
    low, high = 0, max(budget // max(per_sequence, 1), 1)
    while bill(high) <= budget:  # (the activations of a decode step are not in per_sequence)
        low, high = high, high * 2
    while high - low > 1:
        mid = (low + high) // 2
        if bill(mid) <= budget:
            low = mid
        else:
            high = mid
    return low
