"""Regenerates tests/fixtures/peak.json: the measured peak of live tensor bytes during one training step.

torchvision and transformers do not import beside the torch==2.13.0 oracle, so this runs in the venv of
generate_zoo_fixture.py:

    /work/tv/bin/python tests/generate_peak_fixture.py

Per case: the model and an optimizer built on the CPU in float32, one warm-up step, then one measured step,
each `zero_grad(set_to_none=True)`, forward, loss, backward, `step()`; the measured one runs under
`torch.profiler.profile(activities=[CPU], profile_memory=True)`. The allocator's events are walked in time
order; the peak is the highest running sum, plus the bytes alive before the step (parameters, buffers,
optimizer state, inputs and targets; the warm-up's gradients are freed first thing, by zero_grad, and
their frees are not counted since they were allocated before profiling began: a free counts only where
its block's allocation is in this run, matched by address, as the profiler itself would report it but
for a stale size left by an earlier run, see allocations_in_window). Phases (forward, loss,
backward, step) are record_function ranges, so the peak is placed in one. oneDNN and NNPACK are off, so
the CPU runs ATen's reference kernels. As a cross-check independent of the profiler, the storages alive
at the end of the step (parameters, gradients, optimizer state, inputs) are counted by identity and must
equal the running sum there.

The CNNs and the ViT are torchvision's; GPT-2 and the Llama-family decoder are generate_zoo_fixture.py's
plain-torch rebuilds of HF transformers' GPT2LMHeadModel and LlamaForCausalLM (the modules the zoo specs
are checked against), at small configurations written as replacements of the zoo specs' text; their loss
is transformers' own ForCausalLMLoss (logits upcast to float32, labels shifted, cross-entropy).
`amp-bf16` runs forward and loss under torch.autocast("cpu", torch.bfloat16), as training code does.

LORA_CASES (key `lora_cases`): the same step over a frozen base with adapters written as peft's LoraLayer is
(peft is not installed here), the optimizer given the adapters alone, plus what autograd keeps in the forward
(saved_tensors_hooks, distinct storages, parameters and buffers left out). INFERENCE_CASES (`inference_cases`):
one forward in eval() under torch.no_grad() after a warm-up, under the profiler. `--added lora_cases,inference_cases`
measures only those groups again, keeping the rest of the fixture.

Nothing here imports paramcalc: the numbers come from torch alone.
"""

from __future__ import annotations

import gc
import json
import sys
from pathlib import Path

import torch
import torchvision
from torch import nn
from torch.profiler import ProfilerActivity, profile, record_function

sys.path.insert(0, str(Path(__file__).parent))
from generate_memory_fixture import causal_gpt2  # noqa: E402
from generate_zoo_fixture import GPT2, LlamaForCausalLM  # noqa: E402

OUT = Path(__file__).parent / "fixtures" / "peak.json"
PHASES = ("forward", "loss", "backward", "step")

# Small configurations of zoo specs: (spec, [(text, replacement)], build(), input shape, token vocabulary or None)
SMALL_GPT2 = [
    ("d: 768, heads: 12", "d: 128, heads: 4"),
    ("dim: 768", "dim: 128"),
    ("repeat: 12", "repeat: 2"),
    ("inputs: {tokens: [1024], positions: [1024]}", "inputs: {tokens: [128], positions: [128]}"),
    ("num: 1024", "num: 128"),
]
SMALL_LLAMA = [
    ("heads: 32, kv_heads: 4, ff: 5632", "heads: 4, kv_heads: 2, ff: 688"),
    ("dim: 2048", "dim: 256"),
    ("${2048 // 32 // 2}", "${256 // 4 // 2}"),
    ("{repeat: 22,", "{repeat: 2,"),
    ("input: [2048]", "input: [128]"),
]
SMALL_VIT = [
    ("input: [3, 224, 224]", "input: [3, 64, 64]"),
    ("[197, 768]", "[17, 768]"),
    ("repeat: 12", "repeat: 2"),
]
IMAGE_64 = [("input: [3, 224, 224]", "input: [3, 64, 64]")]
MODELS = {
    "resnet18": ("resnet18", IMAGE_64, lambda: torchvision.models.resnet18(), [3, 64, 64], None),
    "mobilenet_v2": ("mobilenet_v2", IMAGE_64, lambda: torchvision.models.mobilenet_v2(), [3, 64, 64], None),
    "vit_small": (
        "vit_b_16",
        SMALL_VIT,
        lambda: torchvision.models.VisionTransformer(64, 16, 2, 12, 768, 3072),
        [3, 64, 64],
        None,
    ),
    "gpt2_small": ("gpt2", SMALL_GPT2, lambda: causal_gpt2(GPT2(context=128, d=128, layers=2, heads=4)), [128], 50257),
    "llama_small": (
        "tinyllama_1_1b",
        SMALL_LLAMA,
        lambda: LlamaForCausalLM(d=256, layers=2, heads=4, kv_heads=2, ff=688),
        [128],
        32000,
    ),
}
# (model, batch, precision, optimizer)
CASES = [
    ("resnet18", 2, "fp32", "adamw-foreach"),
    ("resnet18", 16, "fp32", "sgd-momentum"),
    ("mobilenet_v2", 4, "fp32", "adamw-for-loop"),
    ("mobilenet_v2", 16, "fp32", "adamw-foreach"),
    ("vit_small", 4, "fp32", "adamw-foreach"),
    ("gpt2_small", 1, "fp32", "adamw-foreach"),
    ("gpt2_small", 4, "fp32", "sgd-momentum"),
    ("llama_small", 1, "fp32", "adamw-for-loop"),
    ("llama_small", 4, "fp32", "adamw-foreach"),
    ("llama_small", 4, "fp32", "sgd-momentum"),
    ("resnet18", 8, "fp32", "adamw-for-loop"),
    ("vit_small", 2, "fp32", "sgd-momentum"),
    ("gpt2_small", 8, "fp32", "adamw-for-loop"),
    ("llama_small", 8, "fp32", "adamw-foreach"),
]
# autocast bf16 on the CPU
AMP_CASES = [
    ("resnet18", 8, "amp-bf16", "adamw-for-loop"),
    ("vit_small", 8, "amp-bf16", "adamw-foreach"),
    ("gpt2_small", 4, "amp-bf16", "adamw-foreach"),
    ("llama_small", 8, "amp-bf16", "adamw-foreach"),
]
# LoRA over a frozen base (model, batch, precision, optimizer, rank, targets: module names ending so); adapters
# written as peft's LoraLayer (peft/tuners/lora/layer.py, Linear.forward) is: result = base_layer(x), then
# result = result + lora_B(lora_A(dropout(x))) * scaling, lora_dropout 0 (nn.Identity), A and B without bias
LLAMA_LINEARS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
LORA_CASES = [
    ("llama_small", 4, "fp32", "adamw-foreach", 8, ("q_proj", "v_proj")),
    ("llama_small", 8, "fp32", "adamw-for-loop", 16, LLAMA_LINEARS),
    ("gpt2_small", 4, "fp32", "adamw-foreach", 8, ("c_fc", "c_proj")),
]
# inference: eval() and torch.no_grad(), the forward alone (model, batch)
INFERENCE_CASES = [("resnet18", 8), ("mobilenet_v2", 4), ("gpt2_small", 4), ("llama_small", 4), ("llama_small", 1)]
TRIES = 8  # a run whose sum disagrees with the storages is run again (none has since frees are matched by address)
CROSS_CHECK = 0.005  # a case whose sums still disagree by more is kept, marked: its peak is not trusted


def optimizer(name, params):
    if name == "sgd-momentum":
        return torch.optim.SGD(params, lr=1e-3, momentum=0.9, foreach=True)
    return torch.optim.AdamW(params, lr=1e-3, foreach=name == "adamw-foreach")


def causal_lm_loss(logits, tokens):
    from transformers.loss.loss_utils import ForCausalLMLoss

    return ForCausalLMLoss(logits, tokens, logits.shape[-1])


def storages(tensors) -> dict:
    return {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in tensors if t is not None}


def at_rest(model, opt, inputs) -> dict:
    """Every storage alive between steps, by identity: parameters, buffers, gradients, optimizer state, inputs."""
    tensors = [*model.parameters(), *model.buffers(), *(p.grad for p in model.parameters()), *inputs]
    tensors += [v for state in opt.state.values() for v in state.values() if torch.is_tensor(v)]
    return storages(tensors)


def allocations_in_window(prof) -> list[tuple[int, int]]:
    """The allocator's events as (time, bytes), in time order, without the frees of blocks allocated
    before profiling began. The CPU allocator's reporter looks a freed block's size up in a table it
    fills only while a profiler records memory, and forgets a block only then: an entry left by an
    earlier profiled run (a tensor still alive when it stopped, freed later) outlives its block, and a
    new block at the same address, allocated before this run (a warm-up gradient), is freed with that
    stale size. Matching each free to an allocation in this run by address drops exactly those."""
    found = []

    def walk(node):
        fields = node.extra_fields
        if type(fields).__name__ == "_ExtraFields_Allocation":
            found.append((node.start_time_ns, fields.ptr, fields.alloc_size))
        for child in node.children:
            walk(child)

    for root in prof.profiler.kineto_results.experimental_event_tree():
        walk(root)
    events, alive = [], set()
    for t, ptr, nbytes in sorted(found, key=lambda e: e[0]):
        if nbytes > 0:
            alive.add(ptr)
        elif ptr in alive:
            alive.discard(ptr)
        else:
            continue  # allocated before this run: not in `before` (the warm-up's gradients), or a stale size
        events.append((t, nbytes))
    return events


class LoraLinear(nn.Module):
    """peft's LoraLayer on an nn.Linear (peft/tuners/lora/layer.py, Linear): the frozen base layer, A (in x r)
    and B (r x out) without bias, dropout 0 (nn.Identity), scaling alpha / r; forward as peft's."""

    def __init__(self, base: nn.Linear, rank: int, alpha: int = 16):
        super().__init__()
        self.base_layer = base
        self.lora_dropout = nn.Identity()
        self.lora_A = nn.Linear(base.in_features, rank, bias=False)
        self.lora_B = nn.Linear(rank, base.out_features, bias=False)
        nn.init.zeros_(self.lora_B.weight)
        self.scaling = alpha / rank

    def forward(self, x):
        result = self.base_layer(x)
        result = result + self.lora_B(self.lora_A(self.lora_dropout(x))) * self.scaling
        return result


def add_lora(model, rank, targets):
    """Freezes every parameter, then wraps each nn.Linear whose name ends in a target (peft's matching)."""
    model.requires_grad_(False)
    found = [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear) and name.split(".")[-1] in targets
    ]
    assert found, targets
    for name, module in found:
        parent = model.get_submodule(name.rpartition(".")[0]) if "." in name else model
        setattr(parent, name.rpartition(".")[2], LoraLinear(module, rank))
    return model


def measure(name, batch, precision, opt_name, lora=None):
    spec, _, build, shape, vocab = MODELS[name]
    torch.manual_seed(0)
    model = build().train()
    if lora:  # (rank, targets): adapters over a frozen base; the optimizer gets the trainable ones
        add_lora(model, *lora)
    opt = optimizer(opt_name, [p for p in model.parameters() if p.requires_grad])
    if vocab:
        x = torch.randint(0, vocab, (batch, *shape))
        target = x.clone()  # labels: a tensor of their own, as a data collator makes them

        def loss_of(out):
            return causal_lm_loss(out, target)
    else:
        x = torch.randn(batch, *shape)
        target = torch.randint(0, 1000, (batch,))

        def loss_of(out):
            return nn.functional.cross_entropy(out, target)

    amp = precision == "amp-bf16"

    def step():
        opt.zero_grad(set_to_none=True)
        with record_function("forward"), torch.autocast("cpu", torch.bfloat16, enabled=amp):
            out = model(x)
        with record_function("loss"), torch.autocast("cpu", torch.bfloat16, enabled=amp):
            loss = loss_of(out)
        del out
        with record_function("backward"):
            loss.backward()
        del loss
        with record_function("step"):
            opt.step()

    with torch.backends.mkldnn.flags(enabled=False), torch.backends.nnpack.flags(enabled=False):
        step()
        gc.collect()
        before = sum(at_rest(model, opt, [x, target]).values()) - sum(
            storages(p.grad for p in model.parameters()).values()
        )
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            step()
    events = list(prof.profiler.kineto_results.events())
    ranges = {e.name(): (e.start_ns(), e.end_ns()) for e in events if e.name() in PHASES}
    memory = allocations_in_window(prof)
    live = peak = 0
    peak_at = memory[0][0]
    phase_peaks = dict.fromkeys(PHASES, 0)
    for t, n in memory:
        live += n
        if live > peak:
            peak, peak_at = live, t
        for p, (a, b) in ranges.items():
            if a <= t <= b:
                phase_peaks[p] = max(phase_peaks[p], before + live)
    after = sum(at_rest(model, opt, [x, target]).values())
    # the profiler's sum against the storages counted by identity: equal, but for frees it does not report
    # (of blocks allocated before it began); kept in the fixture, and held small by the test
    phase = next((p for p, (a, b) in ranges.items() if a <= peak_at <= b), "between")
    return {
        "model": name,
        "spec": spec,
        "batch": batch,
        "precision": precision,
        "optimizer": opt_name,
        "before": before,
        "peak_bytes": before + peak,
        "peak_phase": phase,
        "phase_peaks": phase_peaks,
        "after": after,
        "unreported": after - before - live,
    }


def measure_inference(name, batch):
    """The forward alone in eval() under torch.no_grad(), as the training step is measured: the peak of
    live bytes plus what was alive before (parameters, buffers, inputs); the returned output stays."""
    spec, _, build, shape, vocab = MODELS[name]
    torch.manual_seed(0)
    model = build().eval()
    x = torch.randint(0, vocab, (batch, *shape)) if vocab else torch.randn(batch, *shape)
    with torch.backends.mkldnn.flags(enabled=False), torch.backends.nnpack.flags(enabled=False), torch.no_grad():
        model(x)  # warm-up
        gc.collect()
        before = sum(storages([*model.parameters(), *model.buffers(), x]).values())
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            with record_function("forward"):
                out = model(x)
    live = peak = 0
    for _, n in allocations_in_window(prof):
        live += n
        peak = max(peak, live)
    after = sum(storages([*model.parameters(), *model.buffers(), x, out]).values())
    return {
        "model": name,
        "spec": spec,
        "batch": batch,
        "precision": "fp32",
        "before": before,
        "peak_bytes": before + peak,
        "output_bytes": out.untyped_storage().nbytes(),
        "after": after,
        "unreported": after - before - live,
    }


def measure_checked(*case, how=None):
    """The first run whose profiler sum agrees with the storages counted after the step (to 0.01%)."""
    runs = []
    for _ in range(TRIES):
        runs.append((how or measure)(*case))
        if abs(runs[-1]["unreported"]) <= 1e-4 * runs[-1]["peak_bytes"]:
            break
        print("cross-check failed, again:", runs[-1], flush=True)
    best = min(runs, key=lambda r: abs(r["unreported"]))
    return {**best, "cross_check": abs(best["unreported"]) <= CROSS_CHECK * best["peak_bytes"]}


def lora_saved(name, batch, rank, targets):
    """What autograd keeps in the LoRA model's forward: every distinct storage packed by
    saved_tensors_hooks, parameters and buffers left out (generate_memory_fixture.py's measure)."""
    _, _, build, shape, vocab = MODELS[name]
    torch.manual_seed(0)
    model = add_lora(build().train(), rank, targets)
    x = torch.randint(0, vocab, (batch, *shape)) if vocab else torch.randn(batch, *shape)
    own = {t.untyped_storage().data_ptr() for t in [*model.parameters(), *model.buffers()]}
    seen = {}

    def pack(t):
        storage = t.untyped_storage()
        if storage.data_ptr() not in own:
            seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), torch.backends.mkldnn.flags(enabled=False):
        model(x)
    return sum(seen.values())


def lora_case(name, batch, precision, opt_name, rank, targets):
    return {
        **measure(name, batch, precision, opt_name, (rank, targets)),
        "lora": rank,
        "targets": list(targets),
        "saved_bytes": lora_saved(name, batch, rank, targets),
    }


def main_added(groups):
    """`--added lora_cases,inference_cases`: measures these groups again, keeping the rest of the fixture."""
    old = json.loads(OUT.read_text())
    for group in groups:
        cases = LORA_CASES if group == "lora_cases" else INFERENCE_CASES
        how = lora_case if group == "lora_cases" else measure_inference
        old[group] = []
        for case in cases:
            result = measure_checked(*case, how=how)
            print(result, flush=True)
            old[group].append(result)
    OUT.write_text(json.dumps(old, indent=1) + "\n")


def main():
    torch.set_num_threads(1)
    if sys.argv[1:2] == ["--added"]:
        return main_added(sys.argv[2].split(","))
    cases, amp = [], []
    for group, out in ((CASES, cases), (AMP_CASES, amp)):
        for case in [c for c in group if not sys.argv[1:] or c[0] in sys.argv[1:]]:
            result = measure_checked(*case)
            print(result, flush=True)
            out.append(result)
    models = {
        name: {"spec": spec, "replace": [list(r) for r in replace], "input": shape, "tokens": vocab}
        for name, (spec, replace, _, shape, vocab) in MODELS.items()
    }
    if sys.argv[1:]:  # only these models measured again: the other cases are kept as they were
        old = json.loads(OUT.read_text())
        cases = [c for c in old["cases"] if c["model"] not in sys.argv[1:]] + cases
        amp = [c for c in old["amp_cases"] if c["model"] not in sys.argv[1:]] + amp
    OUT.write_text(
        json.dumps({"torch": torch.__version__, "models": models, "cases": cases, "amp_cases": amp}, indent=1) + "\n"
    )
    main_added(["lora_cases", "inference_cases"])  # their own keys, measured after the others


if __name__ == "__main__":
    main()
