"""Per-device memory under parallelism (paramcalc/parallel.py).

Oracle: tests/fixtures/parallel.json, from tests/generate_parallel_fixture.py, which runs PyTorch's own tensor
parallelism (DTensor ColwiseParallel/RowwiseParallel) and FSDP2 (fully_shard) with gloo on the CPU over 2 and 4
processes, on the small Llama-style model TINY_LLAMA below, and records each rank's parameter, gradient and
optimizer-state bytes after a step, FSDP2's gathered unit, and under tensor parallelism the bytes autograd keeps
for backward. Second reference: Megatron-LM's
megatron/training/theoretical_memory_usage.py (NVIDIA/Megatron-LM at 00caa53a), whose most loaded shard holds
(transformer layers / pp + embedding) / tp parameters at 6 + 12 / dp bytes each with the distributed optimizer
(bf16 weights, fp32 gradients, fp32 master weights and Adam's two moments sharded over dp); it divides the
norms by tp as well, where they are replicated: the comparison counts them apart."""

import json
from pathlib import Path

import pytest

from paramcalc import Analysis, analyze
from paramcalc.errors import SpecError
from paramcalc.parallel import Parallel, per_device
from paramcalc.spec import parse_spec

ROOT = Path(__file__).parent.parent
FIXTURE = json.loads((ROOT / "tests/fixtures/parallel.json").read_text())

TINY_LLAMA = """
name: tiny_llama
input: [16]
batch: 2
blocks:
  decoder_layer:
    layers:
      - rmsnorm: {name: input_layernorm}
      - multiheadattention: {heads: 8, kv_heads: 4, bias: false, batch_first: true, name: self_attn}
      - add: {from: input, name: residual}
      - rmsnorm: {name: post_attention_layernorm}
      - linear: {out: 256, bias: false, name: gate_proj}
      - silu: {name: act_fn}
      - linear: {out: 256, bias: false, from: post_attention_layernorm, name: up_proj}
      - mul: {from: [act_fn, up_proj]}
      - linear: {out: 128, bias: false, name: down_proj}
      - add: {from: residual}
layers:
  - embedding: {num: 512, dim: 128, name: embed_tokens}
  - {repeat: 2, name: layers, decoder_layer: {}}
  - rmsnorm: {name: norm}
  - linear: {out: 512, bias: false, name: lm_head}
"""


def _devices(text, par, precision="fp32", optimizer="adam", batch=2):
    analysis = Analysis.of(parse_spec(text, "<parallel>"))
    return per_device(analysis.report, analysis.layers, par, precision, optimizer, batch, "cpu", "flash")


@pytest.mark.parametrize("run", sorted(FIXTURE["runs"]))
def test_each_rank_holds_what_pytorch_holds(run):
    world = int(run[-1])
    par = Parallel(tp=world, engine="torch") if run.startswith("tp") else Parallel(dp=world, fsdp=True, engine="torch")
    (device,) = _devices(TINY_LLAMA, par)
    ranks = FIXTURE["runs"][run]
    most = max(ranks, key=lambda r: r["parameters"] + r["gradients"] + r["optimizer_state"])
    for key in ("parameters", "gradients", "optimizer_state"):
        assert device.components[key] == most[key], key
    if run.startswith("fsdp"):
        assert device.components["gathered_parameters"] == most["gathered_unit"]
    else:  # what autograd keeps: the norms' and residuals' whole, attention's and the MLP's split
        assert device.components["saved_activations"] == most["saved_activations"]


LLAMA3_70B = ROOT / "specs/llama3_70b.yaml"


def test_llama3_70b_tp8_pp4_dp4_against_megatron():
    analysis = Analysis.of(str(LLAMA3_70B))
    report = analysis.report
    par = Parallel(tp=8, pp=4, dp=4, distributed_optimizer=True, sequence_parallel=True)
    devices = per_device(report, analysis.layers, par, "bf16-mixed", "adam", 1, "cuda", "flash")
    assert len(devices) == 4
    h, ff, layers = 8192, 28672, 80
    padded = 129024  # 128256 up to a multiple of 128 · 8 (Megatron's --make-vocab-size-divisible-by 128)
    attention = 2 * h * h * (1 + 8 / 64)  # Megatron's self_attn_term: q, o and 8 of 64 query groups' k, v
    matrices = layers // 4 * (attention + 3 * h * ff) / 8 + padded * h / 8
    norms = layers // 4 * 2 * h  # replicated on every tp rank (Megatron's formula divides them by tp)
    first = devices[0].components
    assert first["parameters"] == 2 * (matrices + norms)
    # Megatron: 6 + 12 / dp bytes a parameter with the distributed optimizer
    weight_and_optimizer = first["parameters"] + first["gradients"] + first["optimizer_state"] + first["master_weights"]
    steps = 4 * (layers // 4 * 9 + 1)  # Adam's step: a float32 per parameter tensor
    assert weight_and_optimizer - steps == pytest.approx((matrices + norms) * (6 + 12 / 4), abs=16)


def test_pipeline_stages_and_in_flight_microbatches():
    par = Parallel(pp=2, microbatches=8)
    first, last = _devices(TINY_LLAMA, par)
    assert first.layers + last.layers == len(analyze(parse_spec(TINY_LLAMA, "<p>")).layers)
    single = _devices(TINY_LLAMA, Parallel())[0]
    assert first.components["parameters"] + last.components["parameters"] == single.components["parameters"]
    # 1F1B: the first stage keeps pp = 2 microbatches' activations, the last one
    one = _devices(TINY_LLAMA, Parallel(pp=2, microbatches=1))[0]
    assert first.components["saved_activations"] == 2 * one.components["saved_activations"]


def test_bad_layouts_are_refused():
    with pytest.raises(SpecError, match="must divide"):
        _devices(TINY_LLAMA, Parallel(pp=4, schedule="interleaved"))
    with pytest.raises(SpecError, match="key/value heads"):
        _devices(TINY_LLAMA, Parallel(tp=8))
    with pytest.raises(SpecError, match="give --tp"):
        _devices(TINY_LLAMA, Parallel(sequence_parallel=True))


def test_the_command_reports_each_stage_and_json_adds_keys():
    from helpers import run_cli

    args = ["memory", str(LLAMA3_70B), "--precision", "bf16-mixed", "--tp", "8", "--pp", "4", "--dp", "4"]
    done = run_cli(*args, "--distributed-optimizer", "--batch", "1", "-f", "json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    memory_keys = json.loads(run_cli("memory", str(LLAMA3_70B), "-f", "json").stdout).keys()
    assert set(memory_keys) - {"peak_bytes", "peak_phase", "peak_layer"} <= set(out)
    assert [d["stage"] for d in out["devices"]] == [0, 1, 2, 3]
    most = max(out["devices"], key=lambda d: d["total"])
    assert out["per_device"] == most["total"] and out["per_device_components"] == most["components"]
    assert out["settings"]["parallel"]["world_size"] == 128


@pytest.mark.parametrize(
    "args, message",
    [
        (["--tp", "3"], "must divide its heads"),
        (["--pp", "3"], "must divide the 80 repetitions"),
        (["--pp", "2", "--zero", "1", "--devices", "2"], "--distributed-optimizer or --fsdp"),
        (["--tp", "2", "--inference"], "drop --inference"),
        (["--tp", "2", "--pipeline-schedule", "zigzag"], "unknown pipeline schedule"),
    ],
)
def test_bad_parallel_options_exit_2(args, message):
    from helpers import run_cli

    done = run_cli("memory", str(LLAMA3_70B), *args)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_interleaved_schedule_holds_megatrons_in_flight_microbatches():
    # theoretical_memory_usage.py: the first stage holds pp · (1 + (pp − 1) / (pp · v)) microbatches' worth
    # of its activations with the interleaved schedule: 4 · (1 + 3 / 8) = 5.5 at pp 4, v 2
    analysis = Analysis.of(str(ROOT / "specs/llama3_8b.yaml"))
    report = analysis.report

    def devices(par):
        return per_device(report, analysis.layers, par, "bf16-mixed", "adam", 1, "cuda", "flash")

    per_microbatch = devices(Parallel(pp=4, microbatches=1))[0].components["saved_activations"]
    interleaved = devices(Parallel(pp=4, microbatches=16, schedule="interleaved", virtual=2))
    assert interleaved[0].components["saved_activations"] == -(-per_microbatch * 11 // 2)
    flat = devices(Parallel(pp=4, microbatches=16))
    assert flat[0].components["saved_activations"] == 4 * per_microbatch  # 1F1B: pp microbatches
    assert flat[3].components["saved_activations"] < flat[0].components["saved_activations"]


def test_context_parallelism_splits_activations_not_parameters():
    whole = _devices(TINY_LLAMA, Parallel())[0].components
    split = _devices(TINY_LLAMA, Parallel(cp=2))[0].components
    assert split["parameters"] == whole["parameters"]
    assert split["saved_activations"] == -(-whole["saved_activations"] // 2)
