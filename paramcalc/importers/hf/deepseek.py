"""DeepSeek-V2 and V3: multi-head latent attention (q and kv through low-rank projections, a rope key shared
by every head, a compressed kv cache of kv_lora_rank + qk_rope_head_dim per position) and a mixture of
routed and shared experts after the first dense layers, as transformers builds them."""

from __future__ import annotations

from ...errors import SpecError
from .common import GELU, Config, named_entry, rope_fields
from .decoders import Family, causal_lm, decoder_layer, gated_mlp

V2 = Family("DeepseekV2ForCausalLM", moe="deepseek")
V3 = Family("DeepseekV3ForCausalLM", moe="deepseek")


def _latent_attention(c: Config, hidden: int, heads: int, eps: float) -> list:
    nope, rope, dv = c.int("qk_nope_head_dim"), c.int("qk_rope_head_dim"), c.int("v_head_dim")
    kv_rank = c.int("kv_lora_rank")
    bias = c.flag("attention_bias", False)
    q_rank = c.raw.get("q_lora_rank")
    if q_rank is None:  # V2-Lite: one q projection
        query = [named_entry("linear", "q_proj", out=heads * (nope + rope), bias=False)]
    else:
        query = [
            named_entry("linear", "q_a_proj", out=c.int("q_lora_rank"), bias=bias),
            {"rmsnorm": {"eps": eps, "name": "q_a_layernorm"}},
            named_entry("linear", "q_b_proj", out=heads * (nope + rope), bias=False),
        ]
    q = query[-1]["linear"]["name"]
    return [
        *query,
        named_entry("linear", "kv_a_proj_with_mqa", out=kv_rank + rope, bias=bias, **{"from": "input"}),
        {"split": {"size": [kv_rank, rope], "index": 0, "dim": -1, "name": "compressed_kv"}},
        {"rmsnorm": {"eps": eps, "name": "kv_a_layernorm"}},
        named_entry("linear", "kv_b_proj", out=heads * (nope + dv), bias=False),
        {"split": {"size": [heads * nope, heads * dv], "index": 0, "dim": -1, "name": "k_nope"}},
        {"split": {"size": [heads * nope, heads * dv], "index": 1, "dim": -1, "from": "kv_b_proj", "name": "value"}},
        {"split": {"size": [kv_rank, rope], "index": 1, "dim": -1, "from": "kv_a_proj_with_mqa", "name": "k_pe"}},
        {"concat": {"from": ["k_nope", "k_pe"], "dim": -1, "name": "key"}},
        {
            "attention": {
                "heads": heads,
                "head_dim": nope + rope,
                "v_head_dim": dv,
                "shared_k": rope,  # k_pe: one rope key for every head
                "causal": True,
                "position": "rope",
                "rotary_dim": rope,
                "latent_cache": kv_rank + rope,  # what DeepSeek's inference caches per position
                # rope on adjacent pairs (V2's complex product, V3's rope_interleave), yarn-scaled in V3
                **rope_fields(c, interleaved=c.flag("rope_interleave", True)),
                "from": [q, "key", "value"],
                "name": "attention",
            }
        },
        named_entry("linear", "o_proj", out=hidden, bias=bias),
    ]


def _moe(c: Config, hidden: int, act, v3: bool) -> list:
    experts, top_k = c.int("n_routed_experts"), c.int("num_experts_per_tok")
    if top_k > experts:
        raise SpecError(f"{c.source}: num_experts_per_tok ({top_k}) is more than the {experts} experts")
    ff = c.int("moe_intermediate_size")
    layers: list[dict] = [
        {"router": {"experts": experts, "top_k": top_k, "correction_bias": v3, "name": "gate"}},
        {"experts": {"experts": experts, "top_k": top_k, "ff": ff, "from": ["input", "gate"], "name": "experts"}},
    ]
    shared = c.int("n_shared_experts", 0, minimum=0)
    if shared:
        layers += [
            {"name": "shared_experts", "from": "input", "layers": gated_mlp(ff * shared, hidden, act, False)},
            {"add": {"from": ["experts", "shared_experts"]}},
        ]
    return layers


def deepseek(c: Config, family: str, seq: int) -> dict:
    v3 = family == "deepseek_v3"
    f = V3 if v3 else V2
    hidden, heads = c.int("hidden_size"), c.int("num_attention_heads")
    eps = c.number("rms_norm_eps", 1e-6)
    act = c.activation("hidden_act", "silu", GELU)
    layers = c.int("num_hidden_layers")
    dense, freq = c.int("first_k_dense_replace", 0, minimum=0), c.int("moe_layer_freq", 1)
    attn = _latent_attention(c, hidden, heads, eps)
    blocks = {
        "decoder_layer": decoder_layer(f, eps, attn, gated_mlp(c.int("intermediate_size"), hidden, act, False)),
        "moe_layer": decoder_layer(f, eps, attn, _moe(c, hidden, act, v3)),
    }
    per_layer = ["moe_layer" if i >= dense and i % freq == 0 else "decoder_layer" for i in range(layers)]
    if len(set(per_layer)) == 1:
        del blocks["moe_layer" if per_layer[0] == "decoder_layer" else "decoder_layer"]
    return causal_lm(c, f, seq, blocks, per_layer, [0] * layers, c.int("qk_rope_head_dim"), eps)
