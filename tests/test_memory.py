"""Memory against PyTorch (tests/fixtures/memory.json, from tests/generate_memory_fixture.py): the bytes
autograd keeps for backward, per layer and for every zoo model at batch 1 and 2, and the bytes of every
optimizer's state; ZeRO's partitioning against the paper's Figure 1; the inference peak and KV cache on
hand-checked cases; and the `memory` command's options. Live, where torch is installed: the layouts the
memory model gives views and elementwise outputs, against torch's strides."""

import importlib.util
import json
from pathlib import Path

import pytest
from helpers import run_cli
from hypothesis import given, settings, strategies as st

from paramcalc import Analysis, analyze
from paramcalc.activations import activations
from paramcalc.layers.base import Context, elementwise_strides, prod, reshape_strides
from paramcalc.memory import Settings, memory
from paramcalc.spec import inline_spec, load_spec, parse_spec

ROOT = Path(__file__).parent.parent
FIXTURE = json.loads((ROOT / "tests" / "fixtures" / "memory.json").read_text())


def case_spec(case):
    if isinstance(case["layers"], str):
        spec = parse_spec(case["layers"], "<case>")
    else:
        spec = inline_spec("x".join(map(str, case["input"])), case["layers"])
    spec.batch = case["batch"]
    return spec


@pytest.mark.parametrize("case", FIXTURE["layers"], ids=lambda c: f"{c['name']}-b{c['batch']}")
def test_layer_saved_bytes_exact(case):
    analysis = Analysis.of(case_spec(case))
    report = analysis.report
    # The fixture runs on the CPU, where dropout keeps its mask in the activation dtype.
    result = activations(report, analysis.layers, Context(case["batch"], "cpu", case["attention"]), "float32")
    front, *rest = result.saved_bytes
    assert [front, sum(rest)] == case["saved"]
    assert result.saved_total == case["total"]


ZOO = sorted(FIXTURE["zoo"])
# Where paramcalc is not exact, and why (strict: the day it becomes exact, the mark must go). None today.
INEXACT: dict[tuple[str, str], str] = {}
ZOO_CASES = [
    pytest.param(
        name,
        key,
        marks=[pytest.mark.xfail(reason=INEXACT[name, key], strict=True)] if (name, key) in INEXACT else [],
        id=f"{name}-{key}",
    )
    for name in ZOO
    for key in FIXTURE["zoo"][name]
]


@pytest.mark.parametrize("name, key", ZOO_CASES)
def test_zoo_saved_bytes_exact(name, key):
    # BERT-base and TinyLlama-1.1B are measured at full size on the meta device (math path only; BERT's
    # attention is written out, with no kernel to choose); TinyLlama's flash path: test_small_tinyllama below.
    batch, attention = int(key[5]), key.split("_")[1]
    spec = load_spec(str(ROOT / "specs" / f"{name}.yaml"))
    spec.batch = batch
    analysis = Analysis.of(spec)
    report = analysis.report
    got = activations(report, analysis.layers, Context(batch, "cpu", attention), "float32").saved_total
    assert got == FIXTURE["zoo"][name][key]


def test_small_tinyllama_saved_bytes_exact():
    # TinyLlama's flash figures come from a smaller configuration of the same architecture, measured on the CPU
    # (its full size is measured on the meta device, where attention always takes the math path): the zoo
    # spec with SMALL_LLAMA's layer count and sequence length, every layer as in the full model.
    small = FIXTURE["zoo_small"]["tinyllama_1_1b"]
    text = (ROOT / "specs" / "tinyllama_1_1b.yaml").read_text()
    assert "{repeat: 22," in text and "input: [2048]" in text
    text = text.replace("{repeat: 22,", f"{{repeat: {small['layers']},").replace(
        "input: [2048]", f"input: [{small['tokens']}]"
    )
    for key, expected in small.items():
        if key.startswith("batch"):
            batch, attention = int(key[5]), key.split("_")[1]
            spec = parse_spec(text, "<tinyllama small>")
            spec.batch = batch
            analysis = Analysis.of(spec)
            report = analysis.report
            got = activations(report, analysis.layers, Context(batch, "cpu", attention), "float32").saved_total
            assert got == expected, key


def test_fixture_covers_the_zoo():
    zoo = json.loads((ROOT / "tests" / "fixtures" / "zoo.json").read_text())["models"]
    assert set(ZOO) == set(zoo)
    assert all(len(FIXTURE["zoo"][name]) >= 2 for name in ZOO)  # batch 1 and 2


@pytest.mark.parametrize("name", sorted(FIXTURE["optimizers"]))
def test_optimizer_state_exact(name):
    analysis = Analysis.of(str(ROOT / "specs" / f"{name}.yaml"))
    for optimizer, expected in FIXTURE["optimizers"][name].items():
        result = memory(analysis, Settings(optimizer=optimizer))
        assert result.components["optimizer_state"] == expected, optimizer


def states_per_device(result):
    c = result.per_device_components
    return c["parameters"] + c["gradients"] + c["optimizer_state"] + c["master_weights"]


def test_zero_figure_1():
    # Rajbhandari et al., "ZeRO: Memory Optimizations Toward Training Trillion Parameter Models" (2020),
    # Figure 1: 7.5B parameters, mixed-precision Adam (K = 12: 16 bytes per parameter), 64 devices:
    # 120 GB, 31.4 GB, 16.6 GB and 1.88 GB per device for the baseline and stages 1-3.
    spec = parse_spec("input: [1]\nlayers:\n  - parameter: [75000, 100000]\n", "<zero>")
    analysis = Analysis.of(spec)
    report = analysis.report
    assert report.totals.params == 7_500_000_000
    paper = {0: "120", 1: "31.4", 2: "16.6", 3: "1.88"}
    formula = {0: 16 * 7.5e9, 1: (2 + 2) * 7.5e9 + 12 * 7.5e9 / 64, 2: 2 * 7.5e9 + 14 * 7.5e9 / 64, 3: 16 * 7.5e9 / 64}
    for stage, printed in paper.items():
        result = memory(analysis, Settings(precision="fp16-mixed", optimizer="adam", zero=stage, devices=64))
        per_device = states_per_device(result)
        assert f"{per_device / 1e9:.3g}" == printed
        # exactly the paper's formula, plus Adam's 4-byte `step` tensor (one parameter tensor), partitioned
        assert 0 <= per_device - formula[stage] <= 4
    assert result.components["master_weights"] == 4 * 7_500_000_000
    assert result.components["optimizer_state"] == 8 * 7_500_000_000 + 4


PEAK = """
input: [10]
layers:
  - linear: 1000
  - relu: {inplace: %s}
  - linear: 10
"""


def test_inference_peak_hand_checked():
    # fp32, batch 1: input 40 B; linear1's output 4,000 B; relu's 4,000 B unless in place; linear2's 40 B.
    # Each output is allocated while its inputs live: linear1 40 + 4,000; relu 4,000 + 4,000; linear2 4,000 + 40.
    assert analyze(parse_spec(PEAK % "false", "<peak>")).totals.peak_activation_bytes == 8_000
    # In place, relu allocates nothing: the peak is linear1's (or linear2's) 4,040.
    assert analyze(parse_spec(PEAK % "true", "<peak>")).totals.peak_activation_bytes == 4_040


def test_inference_peak_keeps_a_skip_alive():
    # A residual: the input (4,000 B) stays alive until the add reads it.
    spec = "input: [1000]\nlayers:\n  - linear: 1000\n  - relu\n  - add: {from: input}\n"
    # linear: 4,000 + 4,000; relu: 4,000 (input) + 4,000 + 4,000; add: input + relu + add's 4,000
    assert analyze(parse_spec(spec, "<skip>")).totals.peak_activation_bytes == 12_000


def test_kv_cache_hand_checked():
    # GPT-2 small: 12 layers, 12 heads of 64: keys and values are 2 · 12 · 768 values per position;
    # 1,024 positions, batch 1, bf16 (2 bytes): 2 · 12 · 768 · 1024 · 2 = 37,748,736 bytes.
    analysis = Analysis.of(str(ROOT / "specs" / "gpt2.yaml"))
    result = memory(analysis, Settings(train=False, precision="bf16", kv_cache=1024))
    assert result.components["kv_cache"] == 37_748_736
    assert result.components["parameters"] == 2 * 124_439_808
    assert result.total == result.components["parameters"] + result.components["activations"] + 37_748_736


def test_weight_formats_for_inference():
    analysis = Analysis.of(str(ROOT / "specs" / "gpt2.yaml"))
    int4 = memory(analysis, Settings(train=False, weights="int4"))
    int8 = memory(analysis, Settings(train=False, weights="int8"))
    assert int8.components["parameters"] == 124_439_808 == 2 * int4.components["parameters"]


def test_checkpointing_keeps_block_inputs_and_one_block():
    # Two blocks of linear → relu on 1,000 features, fp32, batch 1 (4,000 B a tensor).
    spec = parse_spec(
        """
input: [1000]
blocks:
  mlp:
    layers:
      - linear: 1000
      - relu
layers:
  - repeat: 2
    name: h
    mlp: {}
""",
        "<ckpt>",
    )
    analysis = Analysis.of(spec)
    full = memory(analysis, Settings())
    # linear keeps its input, relu its output: input, relu0, relu1 (linear1 keeps relu0): 3 tensors
    assert full.components["saved_activations"] == 3 * 4_000
    ckpt = memory(analysis, Settings(checkpoint=True))
    # kept: each block's input (input, relu0); recomputed one at a time: block 1 adds relu1
    assert ckpt.components["saved_activations"] == 2 * 4_000 + 4_000
    big = Analysis.of(str(ROOT / "specs" / "gpt2.yaml"))
    assert (
        memory(big, Settings(checkpoint=True)).components["saved_activations"]
        < memory(big, Settings()).components["saved_activations"] / 5
    )


def test_mixed_precision_components():
    analysis = Analysis.of(str(ROOT / "specs" / "resnet18.yaml"))
    result = memory(analysis, Settings(precision="bf16-mixed", optimizer="adamw"))
    n = 11_689_512
    assert result.components["parameters"] == result.components["gradients"] == 2 * n
    assert result.components["master_weights"] == 4 * n
    assert result.components["optimizer_state"] == FIXTURE["optimizers"]["resnet18"]["adamw"]  # fp32, as torch


def test_json_contract():
    out = run_cli("memory", str(ROOT / "specs" / "resnet18.yaml"), "-f", "json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert list(doc)[:8] == [
        "schema_version",
        "name",
        "batch",
        "settings",
        "components",
        "total",
        "per_device",
        "per_device_components",
    ]
    assert set(doc["components"]) >= {
        "parameters",
        "gradients",
        "optimizer_state",
        "master_weights",
        "saved_activations",
        "kv_cache",
    }
    assert doc["total"] == sum(doc["components"].values())
    assert doc["components"]["saved_activations"] == 22_218_240  # CUDA kernels: no dropout in ResNet-18


@pytest.mark.parametrize(
    "args, message",
    [
        (["--optimizer", "adan"], "unknown optimizer 'adan'"),
        (["--zero", "3"], "give --devices"),
        (["--zero", "4", "--devices", "2"], "zero stage must be"),
        (["--precision", "fp64"], "unknown precision"),
        (["--weights", "int4"], "for inference"),
        (["--inference", "--weights", "int3"], "unknown weight format"),
        (["--kv-cache", "128"], "add --inference"),
        (["--attention", "sparse"], "unknown attention"),
    ],
)
def test_bad_options_exit_2(args, message):
    out = run_cli("memory", str(ROOT / "specs" / "lenet5.yaml"), *args)
    assert out.returncode == 2
    assert message in out.stderr and out.stdout == ""


def test_check_memory_budgets(tmp_path):
    spec = tmp_path / "m.yaml"
    spec.write_text(
        "input: [1000]\nbudget: {max_train_memory: 1MiB, precision: bf16-mixed, optimizer: adamw, "
        "batch: 8}\nlayers:\n  - linear: 1000\n"
    )
    out = run_cli("check", str(spec))
    # 1,001,000 params · (2 + 2 + 4 + 8) bytes + steps, far over 1 MiB
    assert out.returncode == 1 and "max_train_memory" in out.stdout
    assert run_cli("check", str(spec), "--max-train-memory", "1GiB").returncode == 0
    spec.write_text("input: [10]\nbudget: {max_inference_memory: 1GiB, precision: bf17}\nlayers:\n  - linear: 2\n")
    out = run_cli("check", str(spec))
    assert out.returncode == 2 and "did you mean 'bf16'" in out.stdout


def test_check_computes_the_memory_model_only_for_json():
    """A check's table shows no memory, so it skips the memory model; its JSON shows the totals
    analyze gives, and a memory budget is checked either way."""
    from dataclasses import asdict

    from paramcalc.check import check_file

    spec = str(ROOT / "specs" / "resnet18.yaml")
    full = analyze(spec).totals
    lean = check_file(spec, {}, activations=False).report.totals
    assert lean.saved_bytes is None and lean.peak_activation_bytes is None
    assert asdict(lean) == asdict(full) | {"saved_bytes": None, "peak_activation_bytes": None}
    assert check_file(spec, {}).report.totals == full and full.saved_bytes > 0 and full.peak_activation_bytes > 0
    (shown,) = json.loads(run_cli("check", spec, "--format", "json", "-j", "2").stdout)
    assert shown["totals"] == asdict(full)
    budget = ("--max-train-memory", f"{full.params * 16}B")  # fp32 Adam states alone: more than that
    for fmt in ("table", "json", "github"):
        out = run_cli("check", spec, "--format", fmt, *budget)
        assert out.returncode == 1 and "max_train_memory" in out.stdout, fmt


def test_analyze_rows_add_up():
    report = analyze(str(ROOT / "specs" / "resnet50.yaml"))
    # analyze uses CUDA kernels (no dropout here, so the CPU fixture's figure holds) and flash attention
    assert (
        sum(r.saved_bytes for r in report.layers)
        == report.totals.saved_bytes
        == FIXTURE["zoo"]["resnet50"]["batch1_flash"]
    )
    for block in report.blocks:
        assert block.saved_bytes == sum(r.saved_bytes for r in report.layers[block.first : block.last + 1])
    assert report.layers[0].activation_bytes == 64 * 112 * 112 * 4
    # the input (602,112 B) and conv1's output (3,211,264 B) are alive at once, then conv1's and bn1's
    assert report.totals.peak_activation_bytes >= 2 * 3_211_264


def test_analyze_memory_columns():
    out = run_cli("analyze", str(ROOT / "specs" / "lenet5.yaml"), "--memory")
    assert out.returncode == 0, out.stderr
    header = out.stdout.splitlines()[0].split()
    assert header[-2:] == ["activation", "saved"]
    # By hand, fp32: conv1 keeps the input 4,096; relu1 its output 18,816; maxpool1 its int64 indices 9,408;
    # conv2 its input 4,704; relu2 6,400; maxpool2 indices 3,200; linear1 the flattened 1,600; relu3 480;
    # relu4 336 (linear2 and linear3 keep relu outputs already counted): 49,040.
    assert "training keeps 47.9 KiB (49,040) of activations" in out.stdout
    assert "activation" not in run_cli("analyze", str(ROOT / "specs" / "lenet5.yaml")).stdout.splitlines()[0]


@pytest.mark.parametrize("path", sorted((ROOT / "specs").glob("*.yaml")), ids=lambda p: p.stem)
def test_invariants_on_every_spec(path):
    analysis = Analysis.of(str(path))
    report = analysis.report
    full = memory(analysis, Settings(precision="bf16-mixed"))
    assert full.total == sum(full.components.values())
    ckpt = memory(analysis, Settings(precision="bf16-mixed", checkpoint=True))
    assert 0 < ckpt.components["saved_activations"] <= full.components["saved_activations"]
    previous = full.per_device
    for stage in (1, 2, 3):  # each stage partitions more
        sharded = memory(analysis, Settings(precision="bf16-mixed", zero=stage, devices=8))
        assert sharded.total == full.total and sharded.per_device <= previous
        previous = sharded.per_device
    inference = memory(analysis, Settings(train=False))
    largest_output = max(r.activation_bytes for r in report.layers)
    inputs = sum(8 * report.batch * prod(shape) for shape in report.inputs.values())  # at most int64 each
    # at least the largest output, at most every output and input at once
    assert (
        largest_output <= inference.components["activations"] <= sum(r.activation_bytes for r in report.layers) + inputs
    )


def test_spec_text_reaches_the_terminal_escaped(tmp_path):
    spec = tmp_path / "evil.yaml"
    spec.write_text('name: "evil [bold]x[/bold] [link=https://x]y[/link]"\ninput: [3]\nlayers:\n  - linear: 2\n')
    out = run_cli("memory", str(spec))
    assert out.returncode == 0 and "\x1b" not in out.stdout
    assert "evil [bold]x[/bold] [link=https://x]y[/link]" in out.stdout  # shown, never read as markup
    spec.write_text('name: "evil\\x1b[31mred"\ninput: [3]\nlayers:\n  - linear: 2\n')
    out = run_cli("memory", str(spec))
    assert out.returncode == 2 and "\x1b" not in out.stdout + out.stderr  # control characters: refused, quoted escaped


def test_rotary_tables_are_kept_once_for_every_layer():
    # Two attention layers (heads 2 of 4 on (5, 8)), fp32: RoPE's cos and sin tables are 5 · 4 values each,
    # computed once per step and read by both layers: 2 · 5 · 4 · 4 = 160 bytes, whatever the batch.
    spec = (
        "input: [5, 8]\nlayers:\n  - linear: 8\n" + "  - multiheadattention: {heads: 2, kv_heads: 1, rotary: %s}\n" * 2
    )
    for batch in (1, 3):
        saved = {}
        for rotary in ("true", "false"):
            analysis = Analysis.of(parse_spec(spec % (rotary, rotary), "<rope>"))
            report = analysis.report
            saved[rotary] = activations(report, analysis.layers, Context(batch), "float32").saved_total
        assert saved["true"] - saved["false"] == 160


def test_a_layer_after_a_transformer_layer_reads_its_last_inner_row():
    """A transformer layer is read by its own name (found by the fuzzer: this used to end in a KeyError)."""
    spec = "input: [4, 8]\nlayers:\n  - transformerencoderlayer: {heads: 2, dim_feedforward: 16}\n  - linear: 3\n"
    report = analyze(parse_spec(spec, "t.yaml"))
    block = next(b for b in report.blocks if b.kind == "transformerencoderlayer")
    last = report.layers[block.last]
    assert report.layers[-1].inputs == [block.name]
    # the linear keeps its input, which is the transformer layer's output: the last inner row's storage
    alone = analyze(parse_spec(spec.replace("  - linear: 3\n", ""), "t.yaml"))
    assert report.totals.saved_bytes == alone.totals.saved_bytes + last.activation_bytes


def _torch_tensor(torch, rng, shape):
    """A tensor of `shape` laid out in a random dim order, sometimes a slice of a larger one."""
    order = list(range(len(shape)))
    rng.shuffle(order)
    larger = [size * rng.choice([1, 1, 2]) for size in shape]
    t = torch.empty([larger[d] for d in order]).permute(*[order.index(d) for d in range(len(shape))])
    return t[tuple(slice(0, size) for size in shape)]


def _sized(strides, shape):
    return [stride for stride, size in zip(strides, shape) if size != 1]  # a size-1 dim's stride is arbitrary


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch")
@settings(max_examples=200, deadline=None)
@given(rng=st.randoms(use_true_random=False))
def test_layouts_match_live_torch(rng):
    import torch

    shape = [rng.choice([1, 1, 2, 3, 4]) for _ in range(rng.randint(1, 5))]
    t = _torch_tensor(torch, rng, shape)
    # reshape: a view exactly where Tensor.view can make one, with its strides
    new, rest = [], t.numel()
    while rest > 1:
        factor = rng.choice([f for f in range(2, rest + 1) if rest % f == 0][:3])
        new.append(factor)
        rest //= factor
    new = [*new, *[1] * rng.randint(0, 2)]
    rng.shuffle(new)
    try:
        want = t.view(new).stride()
    except RuntimeError:
        want = None
    got = reshape_strides(tuple(shape), t.stride(), tuple(new))
    assert (got is None) == (want is None), (shape, t.stride(), new)
    if got is not None:
        assert _sized(got, new) == _sized(want, new)
    # elementwise: TensorIterator lays its output out as its inputs (some broadcast) are
    inputs = [t] + [
        _torch_tensor(torch, rng, [size if rng.random() < 0.6 else 1 for size in shape])
        for _ in range(rng.randint(0, 2))
    ]
    out = torch.sigmoid(t) if len(inputs) == 1 else sum(inputs[1:], inputs[0])
    got = elementwise_strides(tuple(shape), [(tuple(x.shape), x.stride()) for x in inputs])
    assert _sized(got, shape) == _sized(out.stride(), shape), [(tuple(x.shape), x.stride()) for x in inputs]
