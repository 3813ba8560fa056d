"""Mamba (state-spaces/mamba-*-hf): an embedding, layers of RMSNorm and the selective-scan mixer with a
residual connection, a final RMSNorm and the LM head tied to the embedding, as transformers' MambaForCausalLM."""

from __future__ import annotations

from .common import Config, named_entry


def mamba(c: Config, family: str, seq: int) -> dict:
    hidden = c.int("hidden_size")
    eps = c.number("layer_norm_epsilon", 1e-5)
    rank = c.raw.get("time_step_rank", "auto")
    mixer = {
        "state": c.int("state_size", 16),
        "intermediate": c.int("intermediate_size") if c.raw.get("intermediate_size") else c.int("expand", 2) * hidden,
        "conv_kernel": c.int("conv_kernel", 4),
        "dt_rank": -(-hidden // 16) if rank == "auto" else c.int("time_step_rank"),
        "bias": c.flag("use_bias", False),
        "conv_bias": c.flag("use_conv_bias", True),
        "name": "mixer",
    }
    block = {
        "layers": [
            {"rmsnorm": {"eps": eps, "name": "norm"}},
            {"mambamixer": mixer},
            {"add": {"from": "input"}},
        ]
    }
    head = named_entry("linear", "lm_head", out=c.int("vocab_size"), bias=False)
    if c.flag("tie_word_embeddings", True):
        head["linear"]["tie"] = "backbone.embeddings"
    return {
        "inputs": {"input_ids": [seq]},
        "blocks": {"mamba_block": block},
        "layers": [
            {
                "name": "backbone",
                "from": "input_ids",
                "layers": [
                    named_entry("embedding", "embeddings", num=c.int("vocab_size"), dim=hidden),
                    {"repeat": c.int("num_hidden_layers"), "name": "layers", "mamba_block": {}},
                    {"rmsnorm": {"eps": eps, "name": "norm_f"}},
                ],
            },
            head,
        ],
    }
