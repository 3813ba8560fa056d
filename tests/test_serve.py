"""Serving (paramcalc/serve.py) against the engines' own accounting.

The oracle is the standard KV formula (2 · layers · kv_heads · head_dim · bytes per position) on published
configs, and vLLM's block accounting, vllm/v1/kv_cache_interface.py at commit 001cabc1be16 (vLLM v1):
FullAttentionSpec (⌈S / block⌉ pages of 2 · block · kv_heads · head_size · dtype bytes),
SlidingWindowSpec.max_memory_usage_bytes (⌈min(window − 1 + max_num_batched_tokens, S) / block⌉ + 1
pages), MLAAttentionSpec.real_page_size_bytes (block · 1 · (kv_lora_rank + qk_rope_head_dim) · dtype
bytes: the latent and the rope key, no separate values) and MambaSpec.page_size_bytes (the sum of the
state shapes, one page per sequence); and vllm/v1/core/kv_cache_utils.py at the same commit:
get_num_blocks (available // page_size // num_layers) and get_max_concurrency_for_kv_cache_config
(num_blocks / ⌈max_model_len / block⌉)."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from helpers import run_cli

from paramcalc import Analysis, analyze
from paramcalc.memory import Settings, memory
from paramcalc.serve import Cache, ServeSettings, caches, sequence_bytes, serve, step_peak
from paramcalc.spec import load_spec, parse_spec

ROOT = Path(__file__).parent.parent
GiB = 2**30
LLAMA3_8B_PARAMS = 8_030_261_248  # published with meta-llama/Meta-Llama-3-8B
# Llama-3-8B's config.json: 32 layers, 8 key/value heads of 128 (4096 / 32 heads)
LLAMA3_8B_KV_PER_TOKEN_BF16 = 2 * 32 * 8 * 128 * 2


def test_llama3_8b_kv_cache_by_the_standard_formula():
    r = serve(load_spec(str(ROOT / "specs/llama3_8b.yaml")), ServeSettings(seq=8192, concurrency=4))
    assert r.kv_cache_per_token == LLAMA3_8B_KV_PER_TOKEN_BF16 == 131_072
    assert r.kv_cache_per_block == 16 * 131_072
    assert r.kv_cache_per_sequence == 8192 * 131_072 == GiB
    assert r.kv_blocks == 4 * 8192 // 16
    assert r.components["kv_cache"] == 4 * GiB
    assert r.components["parameters"] == 2 * LLAMA3_8B_PARAMS
    assert r.settings["kv_dtype"] == "bf16"


def test_partial_blocks_round_up_as_vllm_allocates():
    r = serve(load_spec(str(ROOT / "specs/llama3_8b.yaml")), ServeSettings(seq=8193, concurrency=1))
    assert r.kv_cache_per_sequence == 513 * 16 * LLAMA3_8B_KV_PER_TOKEN_BF16  # ⌈8193 / 16⌉ blocks


def test_kv_dtype_override_and_fp32_weights():
    spec = load_spec(str(ROOT / "specs/llama3_8b.yaml"))
    fp8 = serve(spec, ServeSettings(seq=8192, concurrency=1, kv_dtype="fp8"))
    assert fp8.kv_cache_per_token == LLAMA3_8B_KV_PER_TOKEN_BF16 // 2
    fp32 = serve(spec, ServeSettings(seq=8192, concurrency=1, weights="fp32"))
    assert fp32.kv_cache_per_token == 2 * LLAMA3_8B_KV_PER_TOKEN_BF16
    assert fp32.components["parameters"] == 4 * LLAMA3_8B_PARAMS


def test_llama3_8b_on_80gib_the_most_sequences():
    # vLLM: KV pool = 0.9 · 80 GiB − weights − the profiled activation peak; blocks of 16 · 131,072 B
    # (all 32 layers); a sequence of 8,192 positions takes 512 of them.
    r = serve(load_spec(str(ROOT / "specs/llama3_8b.yaml")), ServeSettings(seq=8192, gpu=80 * GiB))
    budget = int(80 * GiB * 0.9)
    assert r.budget == budget
    pool = budget - 2 * LLAMA3_8B_PARAMS - r.components["activations"]
    assert r.kv_blocks == pool // (16 * LLAMA3_8B_KV_PER_TOKEN_BF16)
    assert r.max_sequences == r.kv_blocks // 512 == 56
    assert r.total <= budget
    more = serve(load_spec(str(ROOT / "specs/llama3_8b.yaml")), ServeSettings(seq=8192, concurrency=57))
    assert more.total > budget


def _layers(*layers):
    rows = [SimpleNamespace(name=f"l{i}", input_shapes=[[8, 4096]]) for i in range(len(layers))]
    return SimpleNamespace(layers=rows), list(layers)


class _Windowed:  # as hfmodels' attention kind is expected to look: kv_cache plus a window attribute
    def __init__(self, window):
        self.window = window

    def kv_cache(self, shapes):
        return 2 * 8 * 128  # Mistral-7B: 8 key/value heads of 128


class _Latent:  # DeepSeek-V3's MLA: kv_lora_rank 512, qk_rope_head_dim 64 (its config.json)
    kv_lora_rank, qk_rope_head_dim = 512, 64

    def kv_cache(self, shapes):
        return 2 * 128 * 192  # what a non-latent cache of its 128 heads would hold: not used


class _Mamba:  # Mamba-130m (state-spaces/mamba-130m): d_inner 1536, d_conv 4, d_state 16
    def kv_cache_layout(self, shapes):
        return Cache("state", state=1536 * (4 - 1) + 1536 * 16)  # conv state + SSM state


def test_sliding_window_holds_the_window_and_the_chunk():
    # Mistral-7B-v0.1: window 4096; chunk 2048; S 32768: ⌈(4096 − 1 + 2048) / 16⌉ + 1 = 385 pages
    report, layers = _layers(_Windowed(4096))
    ((_, cache),) = caches(report, layers)
    assert cache == Cache("window", 2048, 4096)
    assert sequence_bytes(cache, 32768, 2048, 16, 2, 2) == 385 * (2 * 16 * 8 * 128 * 2)
    # a short sequence: min(…, S) positions, still one page more
    assert sequence_bytes(cache, 100, 2048, 16, 2, 2) == (7 + 1) * (2 * 16 * 8 * 128 * 2)


def test_latent_attention_caches_latent_and_rope_key():
    report, layers = _layers(_Latent())
    ((_, cache),) = caches(report, layers)
    assert cache == Cache("mla", 576)
    # MLAAttentionSpec page: block · num_kv_heads (1) · head_size (576) · dtype bytes
    assert sequence_bytes(cache, 16, 2048, 16, 2, 2) == 16 * 1 * 576 * 2


def test_state_space_layers_keep_their_states_whatever_the_length():
    report, layers = _layers(_Mamba())
    ((_, cache),) = caches(report, layers)
    for seq in (1, 8192, 100_000):
        assert sequence_bytes(cache, seq, 2048, 16, 2, 2) == (1536 * 3 + 1536 * 16) * 2


LOGITS_SPEC = "input: [100]\nlayers:\n  - embedding: {num: 1000, dim: 10}\n  - linear: {out: 1000, bias: false}\n"


def test_prefill_keeps_the_last_positions_logits_only():
    # bf16: ids 100 · 8 B; embedding 100 · 10 · 2 = 2,000 B; logits of the last position 1,000 · 2 = 2,000 B.
    # Peak: the embedding's output beside the ids (2,800), then beside the logits (4,000); with every
    # position's logits it would be 2,000 + 200,000.
    spec = parse_spec(LOGITS_SPEC, "<logits>")
    settings = ServeSettings(concurrency=1)
    assert step_peak(spec, 100, 1, settings) == 4_000
    # a decode step of 3 sequences: ids 24 B, embeddings 60 B, logits 3 · 2,000 B
    assert step_peak(spec, 1, 3, settings) == 6_060


def test_weights_bf16_puts_the_kv_cache_in_bf16():
    # GPT-2 small: 2 · 12 layers · 768 values per position, 1,024 positions, 2 bytes (was 4 under --weights bf16)
    result = memory(
        Analysis.of(str(ROOT / "specs" / "gpt2.yaml")), Settings(train=False, weights="bf16", kv_cache=1024)
    )
    assert result.components["kv_cache"] == 2 * 12 * 768 * 1024 * 2


def test_a_network_without_a_cache_is_refused():
    with pytest.raises(Exception, match="caches nothing"):
        serve(parse_spec("input: [10]\nlayers:\n  - linear: 4\n", "<x>"), ServeSettings(concurrency=1))


@pytest.mark.parametrize(
    "settings, message",
    [
        (ServeSettings(), "--concurrency N"),
        (ServeSettings(concurrency=1, kv_dtype="fp4"), "unknown KV-cache dtype"),
        (ServeSettings(concurrency=1, gpu_memory_utilization=1.5), "gpu-memory-utilization"),
        (ServeSettings(concurrency=1, weights="q4_z"), "unknown weight format"),
    ],
)
def test_bad_settings_are_bad_input(settings, message):
    with pytest.raises(Exception, match=message):
        settings.validate()


def test_the_command_answers_in_sequences_and_json_adds_keys():
    spec = str(ROOT / "specs/llama3_8b.yaml")
    done = run_cli("memory", spec, "--serve", "--seq", "8192", "--gpu", "80GiB", "-f", "json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    memory_keys = json.loads(run_cli("memory", spec, "--inference", "-f", "json").stdout).keys()
    assert set(memory_keys) <= set(out)  # memory's keys are kept, serving's added
    assert out["max_sequences"] == 56 and out["kv_cache_per_token"] == LLAMA3_8B_KV_PER_TOKEN_BF16
    assert {"kv_blocks", "prefill_peak", "decode_peak"} <= set(out)
    table = run_cli("memory", spec, "--serve", "--seq", "8192", "--gpu", "80GiB")
    assert "fits 56 sequences of 8,192 tokens" in table.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--serve", "--seq", "64", "--concurrency", "1", "--kv-cache", "64"], "use --seq"),
        (["--serve", "--seq", "64", "--concurrency", "1", "--zero", "1"], "not a --serve option"),
        (["--serve", "--seq", "64", "--gpu", "80 GiB x"], "--gpu expects a number"),
        (["--serve", "--seq", "64"], "--concurrency N"),
        (["--serve", "--seq", "64", "--concurrency", "1", "--kv-dtype", "fp9"], "did you mean"),
    ],
)
def test_bad_serving_options_exit_2(args, message):
    done = run_cli("memory", str(ROOT / "specs/gpt2.yaml"), *args)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("name, params", [("llama3_8b", LLAMA3_8B_PARAMS), ("llama3_70b", 70_553_706_496)])
def test_llama3_specs_match_their_checkpoints(name, params):
    # the total of the checkpoints' safetensors metadata on the Hugging Face Hub (meta-llama/Meta-Llama-3-8B, -70B)
    assert analyze(str(ROOT / f"specs/{name}.yaml")).totals.params == params


LLAMA3_70B_PARAMS = 70_553_706_496
LLAMA3_70B_NORMS = 80 * 2 * 8192 + 8192  # replicated on every rank


def test_llama3_70b_on_4_gpus_each_holds_its_share():
    # vLLM's tensor parallelism: every matrix split over 4 ranks (the vocabulary, 128,256, a multiple of 64:
    # no padding), norms whole; 8 key/value heads, 2 per rank: 80 layers · 2 · 2 · 128 · 2 bytes a token
    spec = load_spec(str(ROOT / "specs/llama3_70b.yaml"))
    bf16 = serve(spec, ServeSettings(seq=8192, concurrency=1, tp=4))
    assert bf16.components["parameters"] == 2 * ((LLAMA3_70B_PARAMS - LLAMA3_70B_NORMS) // 4 + LLAMA3_70B_NORMS)
    assert bf16.kv_cache_per_token == 80 * 2 * 2 * 128 * 2
    whole = serve(spec, ServeSettings(seq=8192, concurrency=1, weights="awq-int4"))
    awq = serve(spec, ServeSettings(seq=8192, concurrency=1, weights="awq-int4", tp=4))
    norms = 2 * LLAMA3_70B_NORMS
    assert awq.components["parameters"] == (whole.components["parameters"] - norms) // 4 + norms


def test_kv_heads_fewer_than_tp_are_replicated():
    # vLLM: max(1, kv_heads // tp) per rank: TinyLlama's 4 key/value heads over 8 ranks keep one each
    spec = load_spec(str(ROOT / "specs/tinyllama_1_1b.yaml"))
    r = serve(spec, ServeSettings(seq=2048, concurrency=1, tp=8, weights="fp32"))
    assert r.kv_cache_per_token == 22 * 2 * 1 * 64 * 4
    # and their k and v projections: one head of 64 on each rank, q and o split 8 ways
    per_layer = 2048 * 2048 // 8 * 2 + 2 * 2048 * 64 + 3 * 2048 * 5632 // 8 + 2 * 2048
    assert r.components["parameters"] == 4 * (22 * per_layer + 2 * 32000 * 2048 // 8 + 2048)


def test_gpt2_serves_its_tokens_and_positions_inputs():
    # GPT-2 small: 2 · 12 layers · 768 values a token, bf16; two inputs of 1,024 positions, both resized
    r = serve(load_spec(str(ROOT / "specs/gpt2.yaml")), ServeSettings(seq=64, concurrency=2))
    assert r.kv_cache_per_token == 2 * 12 * 768 * 2
    assert r.components["kv_cache"] == 2 * 64 * 2 * 12 * 768 * 2
