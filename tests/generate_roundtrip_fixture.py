"""Regenerates tests/fixtures/roundtrip/: tiny randomly initialised transformers decoders, for the round trip
`import hf` → `export` → load the state_dict (strict) → the same logits (tests/test_roundtrip.py).

transformers does not install beside the torch==2.13.0 test oracle, so this runs in its own venv:

    /work/tv/bin/python tests/generate_roundtrip_fixture.py [NAME...]

Per family NAME it writes NAME.json (the config, as a checkpoint's config.json holds it: the keys below;
transformers fills in the rest with its defaults, which `import hf` must know too) and NAME.pt
(torch.save of a dict of tensors, read back with weights_only=True): the model's state_dict as
transformers builds it from the config with torch.manual_seed(0) (eager attention, float32), the input
ids (one sequence of SEQ tokens from a seeded generator) and the logits the model computes on them.
Each model is tiny (hidden 32-64, 2 layers, vocabulary 128), so the whole fixture is a few hundred KB.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import transformers

OUT = Path(__file__).parent / "fixtures" / "roundtrip"
SEQ = 12
BASE = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "num_hidden_layers": 2,
    "vocab_size": 128,
    "max_position_embeddings": 64,
    "tie_word_embeddings": False,
    "bos_token_id": 1,
    "eos_token_id": 2,
}
TOKENS = {"bos_token_id": 1, "eos_token_id": 2}

# name -> (the transformers class, its config values); each family's own keys as its checkpoints write them
CONFIGS: dict[str, tuple[str, dict]] = {
    # Llama 3: rope_theta 500000 and the "llama3" rope scaling (a small original context so that it bites)
    "llama": (
        "LlamaForCausalLM",
        {
            **BASE,
            "model_type": "llama",
            "rope_theta": 500000.0,
            "rope_scaling": {
                "factor": 8.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": 16,
                "rope_type": "llama3",
            },
        },
    ),
    "llama_tied": ("LlamaForCausalLM", {**BASE, "model_type": "llama", "tie_word_embeddings": True}),
    "mistral": ("MistralForCausalLM", {**BASE, "model_type": "mistral", "sliding_window": 5, "rope_theta": 1e6}),
    "qwen2": ("Qwen2ForCausalLM", {**BASE, "model_type": "qwen2", "rope_theta": 1e6}),
    "qwen3": ("Qwen3ForCausalLM", {**BASE, "model_type": "qwen3", "head_dim": 16, "rope_theta": 1e6}),
    "gemma": ("GemmaForCausalLM", {**BASE, "model_type": "gemma", "head_dim": 8, "tie_word_embeddings": True}),
    "phi3": ("Phi3ForCausalLM", {**BASE, "model_type": "phi3", "pad_token_id": 0}),
    "olmo": ("OlmoForCausalLM", {**BASE, "model_type": "olmo", "pad_token_id": 0}),
    "olmo2": ("Olmo2ForCausalLM", {**BASE, "model_type": "olmo2", "pad_token_id": 0, "rope_theta": 500000.0}),
    "starcoder2": (
        "Starcoder2ForCausalLM",
        {**BASE, "model_type": "starcoder2", "rope_theta": 100000.0, "sliding_window": None},
    ),
    "stablelm": (
        "StableLmForCausalLM",
        {**BASE, "model_type": "stablelm", "partial_rotary_factor": 0.25, "num_key_value_heads": 4},
    ),
    "phi": (
        "PhiForCausalLM",
        {**BASE, "model_type": "phi", "partial_rotary_factor": 0.5, "num_key_value_heads": 4},
    ),
    "cohere": ("CohereForCausalLM", {**BASE, "model_type": "cohere", "logit_scale": 0.5}),
    "gpt2": (
        "GPT2LMHeadModel",
        {"model_type": "gpt2", "n_embd": 32, "n_head": 4, "n_layer": 2, "n_positions": 64, "vocab_size": 128, **TOKENS},
    ),
    "gpt_neox": (
        "GPTNeoXForCausalLM",
        {
            **{k: BASE[k] for k in ("hidden_size", "intermediate_size", "num_attention_heads", "vocab_size")},
            "model_type": "gpt_neox",
            "num_hidden_layers": 2,
            "max_position_embeddings": 64,
            "rotary_pct": 0.5,
            **TOKENS,
        },
    ),
    "gptj": (
        "GPTJForCausalLM",
        {
            "model_type": "gptj",
            "n_embd": 32,
            "n_head": 4,
            "n_layer": 2,
            "n_positions": 64,
            "vocab_size": 128,
            "rotary_dim": 4,
            **TOKENS,
        },
    ),
    # falcon-7b's layout (multi-query, parallel attention) and falcon-rw's (a k and v per head, packed per head)
    "falcon": ("FalconForCausalLM", {**BASE, "model_type": "falcon", "rope_theta": 20000.0}),
    "falcon_mha": ("FalconForCausalLM", {**BASE, "model_type": "falcon", "multi_query": False}),
    "opt": (
        "OPTForCausalLM",
        {**BASE, "model_type": "opt", "ffn_dim": 64, "word_embed_proj_dim": 32, "pad_token_id": 0},
    ),
    "gemma2": ("Gemma2ForCausalLM", {**BASE, "model_type": "gemma2", "head_dim": 8, "sliding_window": 5}),
    "gemma3_text": (
        "Gemma3ForCausalLM",
        {**BASE, "model_type": "gemma3_text", "head_dim": 8, "sliding_window": 5, "sliding_window_pattern": 2},
    ),
    "bloom": (
        "BloomForCausalLM",
        {"model_type": "bloom", "hidden_size": 32, "n_head": 4, "n_layer": 2, "vocab_size": 128, **TOKENS},
    ),
    "mixtral": (
        "MixtralForCausalLM",
        {**BASE, "model_type": "mixtral", "num_local_experts": 4, "num_experts_per_tok": 2, "sliding_window": None},
    ),
}


def build(name: str) -> None:
    cls, values = CONFIGS[name]
    config = transformers.AutoConfig.for_model(**values)
    config._attn_implementation = "eager"
    torch.manual_seed(0)
    model = getattr(transformers, cls)(config).float().eval()
    # norms start at ones and biases at zeros: perturb every parameter so that a swapped scale or a dropped
    # bias changes the logits
    with torch.no_grad():
        for tensor in model.parameters():
            tensor.add_(torch.randn_like(tensor) * 0.02)
    ids = torch.randint(0, values.get("vocab_size", 128), (1, SEQ), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        logits = model(input_ids=ids).logits
    state = {k: v.clone() for k, v in model.state_dict().items()}
    (OUT / f"{name}.json").write_text(json.dumps({"architectures": [cls], **values}, indent=1) + "\n")
    torch.save({"state_dict": state, "input_ids": ids, "logits": logits}, OUT / f"{name}.pt")
    print(f"{name}: {sum(v.numel() for v in state.values()):,} elements, logits {tuple(logits.shape)}")


def main(names: list[str]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name in names or CONFIGS:
        build(name)


if __name__ == "__main__":
    main(sys.argv[1:])
