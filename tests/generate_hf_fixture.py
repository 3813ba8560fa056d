"""Regenerates tests/fixtures/hf_models.json: what transformers builds from real checkpoints' configs, for
`paramcalc import hf` to match (tests/test_import.py).

transformers does not install beside the torch==2.13.0 test oracle, so this runs in its own venv:

    /work/tv/bin/python tests/generate_hf_fixture.py [NAME...]

Each config below is typed from the checkpoint's published config.json (its repository named beside it).
Per config it records the transformers class the config's `architectures` names, its parameters (tied
weights once) and buffers built on the meta device (nothing is allocated), for mixture-of-experts models
the active parameters per token (computed from the built model: every parameter but the routed experts a
token does not use), and, on a small config of the same family (the same keys, small sizes), the counts,
the output shape and the MACs that FlopCounterMode measures on one sequence of 8 tokens (eager attention
and eager experts, so that every product is a matmul it sees). Were a rotary embedding's outer product
(inv_freq × positions) a matmul, FlopCounterMode would count it: it is recorded apart (rotary_macs) and
taken off, as no layer's work (0 in transformers 5.25, which multiplies elementwise).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import transformers
from torch.utils.flop_counter import FlopCounterMode

OUT = Path(__file__).parent / "fixtures" / "hf_models.json"
SEQ = 8
SAMPLES = 3200  # wav2vec2's input on the small config: 0.2 s of 16 kHz audio, 9 frames

LLAMA2_7B = json.loads((Path(__file__).parent / "fixtures" / "hf" / "llama-2-7b.json").read_text())
MISTRAL_7B = json.loads((Path(__file__).parent / "fixtures" / "hf" / "mistral-7b-v0.1.json").read_text())
BERT_BASE = Path(__file__).parent / "fixtures" / "hf" / "bert-base-uncased.json"
# microsoft/deberta-v3-base's config.json
DEBERTA_V3_BASE = {
    "model_type": "deberta-v2",
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_attention_heads": 12,
    "num_hidden_layers": 12,
    "vocab_size": 128100,
    "max_position_embeddings": 512,
    "relative_attention": True,
    "position_buckets": 256,
    "norm_rel_ebd": "layer_norm",
    "share_att_key": True,
    "pos_att_type": "p2c|c2p",
    "max_relative_positions": -1,
    "position_biased_input": False,
    "type_vocab_size": 0,
    "layer_norm_eps": 1e-07,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
}
# facebook/wav2vec2-base's config.json (and wav2vec2-base-960h's, which fine-tunes it with a CTC head)
WAV2VEC2_BASE = {
    "model_type": "wav2vec2",
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_attention_heads": 12,
    "num_hidden_layers": 12,
    "vocab_size": 32,
    "conv_dim": [512, 512, 512, 512, 512, 512, 512],
    "conv_kernel": [10, 3, 3, 3, 3, 2, 2],
    "conv_stride": [5, 2, 2, 2, 2, 2, 2],
    "conv_bias": False,
    "num_feat_extract_layers": 7,
    "feat_extract_norm": "group",
    "feat_extract_activation": "gelu",
    "num_conv_pos_embeddings": 128,
    "num_conv_pos_embedding_groups": 16,
    "do_stable_layer_norm": False,
    "mask_time_prob": 0.05,
    "mask_time_length": 10,
    "mask_feature_prob": 0.0,
    "hidden_act": "gelu",
    "hidden_dropout": 0.1,
    "activation_dropout": 0.0,
    "attention_dropout": 0.1,
    "feat_proj_dropout": 0.1,
    "final_dropout": 0.0,
    "layer_norm_eps": 1e-05,
    "layerdrop": 0.05,
    "pad_token_id": 0,
    "bos_token_id": 1,
    "eos_token_id": 2,
}

# hfvis: openai/clip-vit-base-patch32's text_config and vision_config
CLIP_B32_TEXT = {
    "hidden_size": 512,
    "intermediate_size": 2048,
    "num_attention_heads": 8,
    "num_hidden_layers": 12,
    "max_position_embeddings": 77,
    "vocab_size": 49408,
    "hidden_act": "quick_gelu",
    "layer_norm_eps": 1e-05,
    "projection_dim": 512,
    "attention_dropout": 0.0,
    "dropout": 0.0,
    "bos_token_id": 0,
    "eos_token_id": 2,
    "pad_token_id": 1,
}
CLIP_B32_VISION = {
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_attention_heads": 12,
    "num_hidden_layers": 12,
    "image_size": 224,
    "patch_size": 32,
    "num_channels": 3,
    "hidden_act": "quick_gelu",
    "layer_norm_eps": 1e-05,
    "projection_dim": 512,
    "attention_dropout": 0.0,
    "dropout": 0.0,
}

# name -> (checkpoint, its config.json's values that transformers reads, published figures)
CONFIGS = {
    "llama-2-7b": ("meta-llama/Llama-2-7b-hf", LLAMA2_7B, {"params": 6_738_415_616}),
    "llama-3.2-1b": (
        "meta-llama/Llama-3.2-1B",
        {
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "hidden_size": 2048,
            "intermediate_size": 8192,
            "num_attention_heads": 32,
            "num_key_value_heads": 8,
            "head_dim": 64,
            "num_hidden_layers": 16,
            "vocab_size": 128256,
            "max_position_embeddings": 131072,
            "rms_norm_eps": 1e-05,
            "rope_theta": 500000.0,
            "rope_scaling": {
                "factor": 32.0,
                "high_freq_factor": 4.0,
                "low_freq_factor": 1.0,
                "original_max_position_embeddings": 8192,
                "rope_type": "llama3",
            },
            "tie_word_embeddings": True,
            "hidden_act": "silu",
        },
        {},
    ),
    "mistral-7b-v0.1": ("mistralai/Mistral-7B-v0.1", MISTRAL_7B, {"params": 7_241_732_096}),
    "qwen2.5-7b": (
        "Qwen/Qwen2.5-7B",
        {
            "architectures": ["Qwen2ForCausalLM"],
            "model_type": "qwen2",
            "hidden_size": 3584,
            "intermediate_size": 18944,
            "num_attention_heads": 28,
            "num_key_value_heads": 4,
            "num_hidden_layers": 28,
            "vocab_size": 152064,
            "max_position_embeddings": 131072,
            "max_window_layers": 28,
            "sliding_window": 131072,
            "use_sliding_window": False,
            "rms_norm_eps": 1e-06,
            "rope_theta": 1000000.0,
            "tie_word_embeddings": False,
            "hidden_act": "silu",
        },
        {},
    ),
    "qwen3-8b": (
        "Qwen/Qwen3-8B",
        {
            "architectures": ["Qwen3ForCausalLM"],
            "model_type": "qwen3",
            "hidden_size": 4096,
            "intermediate_size": 12288,
            "num_attention_heads": 32,
            "num_key_value_heads": 8,
            "head_dim": 128,
            "num_hidden_layers": 36,
            "vocab_size": 151936,
            "max_position_embeddings": 40960,
            "max_window_layers": 36,
            "sliding_window": None,
            "use_sliding_window": False,
            "attention_bias": False,
            "rms_norm_eps": 1e-06,
            "rope_theta": 1000000,
            "tie_word_embeddings": False,
            "hidden_act": "silu",
        },
        {},
    ),
    "gemma-7b": (
        "google/gemma-7b",
        {
            "architectures": ["GemmaForCausalLM"],
            "model_type": "gemma",
            "hidden_size": 3072,
            "intermediate_size": 24576,
            "num_attention_heads": 16,
            "num_key_value_heads": 16,
            "head_dim": 256,
            "num_hidden_layers": 28,
            "vocab_size": 256000,
            "max_position_embeddings": 8192,
            "rms_norm_eps": 1e-06,
            "rope_theta": 10000.0,
            "hidden_act": "gelu",
        },
        {},
    ),
    "gemma-2-9b": (
        "google/gemma-2-9b",
        {
            "architectures": ["Gemma2ForCausalLM"],
            "model_type": "gemma2",
            "hidden_size": 3584,
            "intermediate_size": 14336,
            "num_attention_heads": 16,
            "num_key_value_heads": 8,
            "head_dim": 256,
            "num_hidden_layers": 42,
            "vocab_size": 256000,
            "max_position_embeddings": 8192,
            "sliding_window": 4096,
            "attn_logit_softcapping": 50.0,
            "final_logit_softcapping": 30.0,
            "query_pre_attn_scalar": 256,
            "rms_norm_eps": 1e-06,
            "hidden_activation": "gelu_pytorch_tanh",
        },
        {},
    ),
    "gemma-3-1b-pt": (
        "google/gemma-3-1b-pt",
        {
            "architectures": ["Gemma3ForCausalLM"],
            "model_type": "gemma3_text",
            "hidden_size": 1152,
            "intermediate_size": 6912,
            "num_attention_heads": 4,
            "num_key_value_heads": 1,
            "head_dim": 256,
            "num_hidden_layers": 26,
            "vocab_size": 262144,
            "max_position_embeddings": 32768,
            "sliding_window": 512,
            "sliding_window_pattern": 6,
            "query_pre_attn_scalar": 256,
            "rope_theta": 1000000,
            "rope_local_base_freq": 10000,
            "rms_norm_eps": 1e-06,
            "hidden_activation": "gelu_pytorch_tanh",
        },
        {},
    ),
    "phi-3-mini-4k-instruct": (
        "microsoft/Phi-3-mini-4k-instruct",
        {
            "architectures": ["Phi3ForCausalLM"],
            "model_type": "phi3",
            "hidden_size": 3072,
            "intermediate_size": 8192,
            "num_attention_heads": 32,
            "num_key_value_heads": 32,
            "num_hidden_layers": 32,
            "vocab_size": 32064,
            "max_position_embeddings": 4096,
            "original_max_position_embeddings": 4096,
            "sliding_window": 2047,
            "rms_norm_eps": 1e-05,
            "rope_theta": 10000.0,
            "tie_word_embeddings": False,
            "hidden_act": "silu",
        },
        {},
    ),
    "olmo-1b-hf": (
        "allenai/OLMo-1B-hf",
        {
            "architectures": ["OlmoForCausalLM"],
            "model_type": "olmo",
            "hidden_size": 2048,
            "intermediate_size": 8192,
            "num_attention_heads": 16,
            "num_key_value_heads": 16,
            "num_hidden_layers": 16,
            "vocab_size": 50304,
            "max_position_embeddings": 2048,
            "attention_bias": False,
            "clip_qkv": None,
            "rope_theta": 10000.0,
            "tie_word_embeddings": True,
            "hidden_act": "silu",
        },
        {},
    ),
    "olmo-2-1124-7b": (
        "allenai/OLMo-2-1124-7B",
        {
            "architectures": ["Olmo2ForCausalLM"],
            "model_type": "olmo2",
            "hidden_size": 4096,
            "intermediate_size": 11008,
            "num_attention_heads": 32,
            "num_key_value_heads": 32,
            "num_hidden_layers": 32,
            "vocab_size": 100352,
            "max_position_embeddings": 4096,
            "attention_bias": False,
            "rms_norm_eps": 1e-06,
            "rope_theta": 500000,
            "tie_word_embeddings": False,
            "hidden_act": "silu",
        },
        {},
    ),
    "starcoder2-3b": (
        "bigcode/starcoder2-3b",
        {
            "architectures": ["Starcoder2ForCausalLM"],
            "model_type": "starcoder2",
            "hidden_size": 3072,
            "intermediate_size": 12288,
            "num_attention_heads": 24,
            "num_key_value_heads": 2,
            "num_hidden_layers": 30,
            "vocab_size": 49152,
            "max_position_embeddings": 16384,
            "sliding_window": 4096,
            "norm_epsilon": 1e-05,
            "use_bias": True,
            "rope_theta": 999999.4420358813,
            "hidden_act": "gelu_pytorch_tanh",
        },
        {},
    ),
    "stablelm-2-1_6b": (
        "stabilityai/stablelm-2-1_6b",
        {
            "architectures": ["StableLmForCausalLM"],
            "model_type": "stablelm",
            "hidden_size": 2048,
            "intermediate_size": 5632,
            "num_attention_heads": 32,
            "num_key_value_heads": 32,
            "num_hidden_layers": 24,
            "vocab_size": 100352,
            "max_position_embeddings": 4096,
            "layer_norm_eps": 1e-05,
            "partial_rotary_factor": 0.25,
            "use_qkv_bias": True,
            "qk_layernorm": False,
            "use_parallel_residual": False,
            "rope_theta": 10000,
            "tie_word_embeddings": False,
            "hidden_act": "silu",
        },
        {},
    ),
    "c4ai-command-r-v01": (
        "CohereForAI/c4ai-command-r-v01",
        {
            "architectures": ["CohereForCausalLM"],
            "model_type": "cohere",
            "hidden_size": 8192,
            "intermediate_size": 22528,
            "num_attention_heads": 64,
            "num_key_value_heads": 64,
            "num_hidden_layers": 40,
            "vocab_size": 256000,
            "max_position_embeddings": 8192,
            "layer_norm_eps": 1e-05,
            "logit_scale": 0.0625,
            "use_qk_norm": False,
            "rope_theta": 8000000.0,
            "hidden_act": "silu",
        },
        {},
    ),
    "phi-2": (
        "microsoft/phi-2",
        {
            "architectures": ["PhiForCausalLM"],
            "model_type": "phi",
            "hidden_size": 2560,
            "intermediate_size": 10240,
            "num_attention_heads": 32,
            "num_key_value_heads": 32,
            "num_hidden_layers": 32,
            "vocab_size": 51200,
            "max_position_embeddings": 2048,
            "layer_norm_eps": 1e-05,
            "partial_rotary_factor": 0.4,
            "qk_layernorm": False,
            "rope_theta": 10000.0,
            "tie_word_embeddings": False,
            "hidden_act": "gelu_new",
        },
        {},
    ),
    "pythia-1.4b": (
        "EleutherAI/pythia-1.4b",
        {
            "architectures": ["GPTNeoXForCausalLM"],
            "model_type": "gpt_neox",
            "hidden_size": 2048,
            "intermediate_size": 8192,
            "num_attention_heads": 16,
            "num_hidden_layers": 24,
            "vocab_size": 50304,
            "max_position_embeddings": 2048,
            "rotary_pct": 0.25,
            "rotary_emb_base": 10000,
            "use_parallel_residual": True,
            "layer_norm_eps": 1e-05,
            "tie_word_embeddings": False,
            "hidden_act": "gelu",
        },
        {},
    ),
    "gpt-j-6b": (
        "EleutherAI/gpt-j-6b",
        {
            "architectures": ["GPTJForCausalLM"],
            "model_type": "gptj",
            "n_embd": 4096,
            "n_head": 16,
            "n_layer": 28,
            "n_positions": 2048,
            "rotary_dim": 64,
            "vocab_size": 50400,
            "n_inner": None,
            "layer_norm_epsilon": 1e-05,
            "activation_function": "gelu_new",
            "tie_word_embeddings": False,
        },
        {},
    ),
    "opt-1.3b": (
        "facebook/opt-1.3b",
        {
            "architectures": ["OPTForCausalLM"],
            "model_type": "opt",
            "hidden_size": 2048,
            "ffn_dim": 8192,
            "num_attention_heads": 32,
            "num_hidden_layers": 24,
            "vocab_size": 50272,
            "max_position_embeddings": 2048,
            "word_embed_proj_dim": 2048,
            "do_layer_norm_before": True,
            "enable_bias": True,
            "layer_norm_elementwise_affine": True,
            "activation_function": "relu",
            "pad_token_id": 1,
        },
        {},
    ),
    "bloom-560m": (
        "bigscience/bloom-560m",
        {
            "architectures": ["BloomForCausalLM"],
            "model_type": "bloom",
            "hidden_size": 1024,
            "n_head": 16,
            "n_layer": 24,
            "vocab_size": 250880,
            "layer_norm_epsilon": 1e-05,
        },
        {},
    ),
    "falcon-7b": (
        "tiiuae/falcon-7b",
        {
            "architectures": ["FalconForCausalLM"],
            "model_type": "falcon",
            "hidden_size": 4544,
            "num_attention_heads": 71,
            "num_hidden_layers": 32,
            "vocab_size": 65024,
            "multi_query": True,
            "parallel_attn": True,
            "new_decoder_architecture": False,
            "alibi": False,
            "bias": False,
            "layer_norm_epsilon": 1e-05,
        },
        {},
    ),
    "gpt-oss-20b": (
        "openai/gpt-oss-20b",
        {
            "architectures": ["GptOssForCausalLM"],
            "model_type": "gpt_oss",
            "hidden_size": 2880,
            "intermediate_size": 2880,
            "num_attention_heads": 64,
            "num_key_value_heads": 8,
            "head_dim": 64,
            "num_hidden_layers": 24,
            "num_local_experts": 32,
            "num_experts_per_tok": 4,
            "experts_per_token": 4,
            "vocab_size": 201088,
            "max_position_embeddings": 131072,
            "sliding_window": 128,
            "layer_types": ["sliding_attention", "full_attention"] * 12,
            "attention_bias": True,
            "rms_norm_eps": 1e-05,
            "rope_theta": 150000,
            "rope_scaling": {
                "beta_fast": 32.0,
                "beta_slow": 1.0,
                "factor": 32.0,
                "original_max_position_embeddings": 4096,
                "rope_type": "yarn",
                "truncate": False,
            },
            "swiglu_limit": 7.0,
            "tie_word_embeddings": False,
            "hidden_act": "silu",
        },
        {},
    ),
    "bert-base-uncased": (
        "google-bert/bert-base-uncased",
        {
            **json.loads((Path(__file__).parent / "fixtures" / "hf" / "bert-base-uncased.json").read_text()),
            "architectures": ["BertModel"],  # the base model, with its pooler (the checkpoint names BertForMaskedLM)
        },
        {"params": 109_482_240},
    ),
    "roberta-base": (
        "FacebookAI/roberta-base",
        {
            "architectures": ["RobertaModel"],  # the base model (the checkpoint names RobertaForMaskedLM)
            "model_type": "roberta",
            "hidden_size": 768,
            "intermediate_size": 3072,
            "num_attention_heads": 12,
            "num_hidden_layers": 12,
            "vocab_size": 50265,
            "max_position_embeddings": 514,
            "type_vocab_size": 1,
            "pad_token_id": 1,
            "layer_norm_eps": 1e-05,
            "hidden_act": "gelu",
        },
        {},
    ),
    "xlm-roberta-base": (
        "FacebookAI/xlm-roberta-base",
        {
            "architectures": ["XLMRobertaModel"],  # the base model (the checkpoint names XLMRobertaForMaskedLM)
            "model_type": "xlm-roberta",
            "hidden_size": 768,
            "intermediate_size": 3072,
            "num_attention_heads": 12,
            "num_hidden_layers": 12,
            "vocab_size": 250002,
            "max_position_embeddings": 514,
            "type_vocab_size": 1,
            "pad_token_id": 1,
            "layer_norm_eps": 1e-05,
            "hidden_act": "gelu",
        },
        {},
    ),
    "gpt2": (
        "openai-community/gpt2",
        json.loads((Path(__file__).parent / "fixtures" / "hf" / "gpt2.json").read_text()),
        {"params": 124_439_808},
    ),
    "vit-base-patch16-224": (
        "google/vit-base-patch16-224",
        json.loads((Path(__file__).parent / "fixtures" / "hf" / "vit-base-patch16-224.json").read_text()),
        {"params": 86_567_656},
    ),
    "t5-small": (
        "google-t5/t5-small",
        {
            "architectures": ["T5ForConditionalGeneration"],
            "model_type": "t5",
            "d_model": 512,
            "d_kv": 64,
            "d_ff": 2048,
            "num_heads": 8,
            "num_layers": 6,
            "num_decoder_layers": 6,
            "vocab_size": 32128,
            "relative_attention_num_buckets": 32,
            "feed_forward_proj": "relu",
            "layer_norm_epsilon": 1e-06,
            "tie_word_embeddings": True,
            "decoder_start_token_id": 0,
            "pad_token_id": 0,
            "eos_token_id": 1,
        },
        {},
    ),
    "deepseek-v3": (
        "deepseek-ai/DeepSeek-V3",
        {
            "architectures": ["DeepseekV3ForCausalLM"],
            "model_type": "deepseek_v3",
            "hidden_size": 7168,
            "intermediate_size": 18432,
            "moe_intermediate_size": 2048,
            "num_attention_heads": 128,
            "num_key_value_heads": 128,
            "num_hidden_layers": 61,
            "first_k_dense_replace": 3,
            "n_routed_experts": 256,
            "n_shared_experts": 1,
            "num_experts_per_tok": 8,
            "n_group": 8,
            "topk_group": 4,
            "moe_layer_freq": 1,
            "norm_topk_prob": True,
            "routed_scaling_factor": 2.5,
            "scoring_func": "sigmoid",
            "topk_method": "noaux_tc",
            "q_lora_rank": 1536,
            "kv_lora_rank": 512,
            "qk_nope_head_dim": 128,
            "qk_rope_head_dim": 64,
            "v_head_dim": 128,
            "vocab_size": 129280,
            "max_position_embeddings": 163840,
            "rms_norm_eps": 1e-06,
            "rope_theta": 10000,
            "attention_bias": False,
            "tie_word_embeddings": False,
            "hidden_act": "silu",
        },
        {},
    ),
    "deepseek-v2-lite": (
        "deepseek-ai/DeepSeek-V2-Lite",
        {
            "architectures": ["DeepseekV2ForCausalLM"],
            "model_type": "deepseek_v2",
            "hidden_size": 2048,
            "intermediate_size": 10944,
            "moe_intermediate_size": 1408,
            "num_attention_heads": 16,
            "num_key_value_heads": 16,
            "num_hidden_layers": 27,
            "first_k_dense_replace": 1,
            "n_routed_experts": 64,
            "n_shared_experts": 2,
            "num_experts_per_tok": 6,
            "n_group": 1,
            "topk_group": 1,
            "moe_layer_freq": 1,
            "norm_topk_prob": False,
            "routed_scaling_factor": 1.0,
            "scoring_func": "softmax",
            "topk_method": "greedy",
            "q_lora_rank": None,
            "kv_lora_rank": 512,
            "qk_nope_head_dim": 128,
            "qk_rope_head_dim": 64,
            "v_head_dim": 128,
            "vocab_size": 102400,
            "max_position_embeddings": 163840,
            "rms_norm_eps": 1e-06,
            "rope_theta": 10000,
            "attention_bias": False,
            "tie_word_embeddings": False,
            "hidden_act": "silu",
        },
        {},
    ),
    "mamba-130m-hf": (
        "state-spaces/mamba-130m-hf",
        {
            "architectures": ["MambaForCausalLM"],
            "model_type": "mamba",
            "hidden_size": 768,
            "intermediate_size": 1536,
            "state_size": 16,
            "num_hidden_layers": 24,
            "vocab_size": 50280,
            "conv_kernel": 4,
            "expand": 2,
            "time_step_rank": 48,
            "use_bias": False,
            "use_conv_bias": True,
            "layer_norm_epsilon": 1e-05,
            "tie_word_embeddings": True,
            "hidden_act": "silu",
            "pad_token_id": 0,
            "bos_token_id": 0,
            "eos_token_id": 0,
        },
        {},
    ),
    "distilbert-base-uncased": (
        "distilbert/distilbert-base-uncased",
        {
            "architectures": ["DistilBertModel"],  # the base model (the checkpoint names DistilBertForMaskedLM)
            "model_type": "distilbert",
            "dim": 768,
            "hidden_dim": 3072,
            "n_heads": 12,
            "n_layers": 6,
            "vocab_size": 30522,
            "max_position_embeddings": 512,
            "sinusoidal_pos_embds": False,
            "activation": "gelu",
            "pad_token_id": 0,
        },
        {},
    ),
    "electra-base-discriminator": (
        "google/electra-base-discriminator",
        {
            "architectures": ["ElectraModel"],  # the base model (the checkpoint names ElectraForPreTraining)
            "model_type": "electra",
            "embedding_size": 768,
            "hidden_size": 768,
            "intermediate_size": 3072,
            "num_attention_heads": 12,
            "num_hidden_layers": 12,
            "vocab_size": 30522,
            "max_position_embeddings": 512,
            "type_vocab_size": 2,
            "layer_norm_eps": 1e-12,
            "hidden_act": "gelu",
        },
        {},
    ),
    "bart-base": (
        "facebook/bart-base",
        {
            "architectures": ["BartForConditionalGeneration"],  # the checkpoint names BartModel: with its LM head
            "model_type": "bart",
            "d_model": 768,
            "encoder_layers": 6,
            "decoder_layers": 6,
            "encoder_attention_heads": 12,
            "decoder_attention_heads": 12,
            "encoder_ffn_dim": 3072,
            "decoder_ffn_dim": 3072,
            "vocab_size": 50265,
            "max_position_embeddings": 1024,
            "activation_function": "gelu",
            "scale_embedding": False,
            "pad_token_id": 1,
            "bos_token_id": 0,
            "eos_token_id": 2,
            "decoder_start_token_id": 2,
            "forced_eos_token_id": 2,
        },
        {},
    ),
    "mixtral-8x7b-v0.1": (
        "mistralai/Mixtral-8x7B-v0.1",
        {
            "architectures": ["MixtralForCausalLM"],
            "model_type": "mixtral",
            "hidden_size": 4096,
            "intermediate_size": 14336,
            "num_attention_heads": 32,
            "num_key_value_heads": 8,
            "num_hidden_layers": 32,
            "num_local_experts": 8,
            "num_experts_per_tok": 2,
            "vocab_size": 32000,
            "max_position_embeddings": 32768,
            "sliding_window": None,
            "rms_norm_eps": 1e-05,
            "rope_theta": 1000000.0,
            "tie_word_embeddings": False,
            "hidden_act": "silu",
        },
        # paramcalc issue 25 and Mistral AI's announcement: 46.7 B parameters, 12.9 B active per token
        {"params": 46_702_792_704, "active_params": 12_879_925_248},
    ),
    "qwen1.5-moe-a2.7b": (
        "Qwen/Qwen1.5-MoE-A2.7B",
        {
            "architectures": ["Qwen2MoeForCausalLM"],
            "model_type": "qwen2_moe",
            "hidden_size": 2048,
            "intermediate_size": 5632,
            "moe_intermediate_size": 1408,
            "shared_expert_intermediate_size": 5632,
            "num_experts": 60,
            "num_experts_per_tok": 4,
            "decoder_sparse_step": 1,
            "norm_topk_prob": False,
            "num_attention_heads": 16,
            "num_key_value_heads": 16,
            "num_hidden_layers": 24,
            "vocab_size": 151936,
            "max_position_embeddings": 8192,
            "max_window_layers": 21,
            "sliding_window": 32768,
            "use_sliding_window": False,
            "rms_norm_eps": 1e-06,
            "rope_theta": 1000000.0,
            "tie_word_embeddings": False,
            "hidden_act": "silu",
        },
        {},
    ),
    "qwen3-30b-a3b": (
        "Qwen/Qwen3-30B-A3B",
        {
            "architectures": ["Qwen3MoeForCausalLM"],
            "model_type": "qwen3_moe",
            "hidden_size": 2048,
            "intermediate_size": 6144,
            "moe_intermediate_size": 768,
            "num_experts": 128,
            "num_experts_per_tok": 8,
            "decoder_sparse_step": 1,
            "mlp_only_layers": [],
            "norm_topk_prob": True,
            "num_attention_heads": 32,
            "num_key_value_heads": 4,
            "head_dim": 128,
            "num_hidden_layers": 48,
            "vocab_size": 151936,
            "max_position_embeddings": 40960,
            "max_window_layers": 48,
            "sliding_window": None,
            "use_sliding_window": False,
            "attention_bias": False,
            "rms_norm_eps": 1e-06,
            "rope_theta": 1000000.0,
            "tie_word_embeddings": False,
            "hidden_act": "silu",
        },
        {},
    ),
    # hfvis
    "convnext-tiny-224": (
        "facebook/convnext-tiny-224",
        {
            "architectures": ["ConvNextForImageClassification"],
            "model_type": "convnext",
            "depths": [3, 3, 9, 3],
            "hidden_sizes": [96, 192, 384, 768],
            "num_stages": 4,
            "patch_size": 4,
            "image_size": 224,
            "num_channels": 3,
            "hidden_act": "gelu",
            "layer_norm_eps": 1e-12,
            "layer_scale_init_value": 1e-06,
            "drop_path_rate": 0.0,
            "num_labels": 1000,  # the checkpoint's id2label has 1000 entries
        },
        # torchvision's ConvNeXt_Tiny_Weights.IMAGENET1K_V1.meta["num_params"], the same network
        {"params": 28_589_128},
    ),
    "swin-tiny-patch4-window7-224": (
        "microsoft/swin-tiny-patch4-window7-224",
        {
            "architectures": ["SwinForImageClassification"],
            "model_type": "swin",
            "depths": [2, 2, 6, 2],
            "num_heads": [3, 6, 12, 24],
            "embed_dim": 96,
            "hidden_size": 768,
            "num_layers": 4,
            "window_size": 7,
            "patch_size": 4,
            "image_size": 224,
            "num_channels": 3,
            "mlp_ratio": 4.0,
            "qkv_bias": True,
            "hidden_act": "gelu",
            "layer_norm_eps": 1e-05,
            "use_absolute_embeddings": False,
            "attention_probs_dropout_prob": 0.0,
            "hidden_dropout_prob": 0.0,
            "drop_path_rate": 0.1,
            "encoder_stride": 32,
            "num_labels": 1000,  # the checkpoint's id2label has 1000 entries
        },
        # torchvision's Swin_T_Weights.IMAGENET1K_V1.meta["num_params"], the same network
        {"params": 28_288_354},
    ),
    "clip-vit-base-patch32": (
        "openai/clip-vit-base-patch32",
        {
            "architectures": ["CLIPModel"],
            "model_type": "clip",
            "projection_dim": 512,
            "logit_scale_init_value": 2.6592,
            "initializer_factor": 1.0,
            "text_config": CLIP_B32_TEXT,
            "vision_config": CLIP_B32_VISION,
        },
        # OpenAI's CLIP notebook (Interacting_with_CLIP.ipynb) prints "Model parameters: 151,277,313" for ViT-B/32
        {"params": 151_277_313},
    ),
    "clip-vit-base-patch32-vision": (
        "openai/clip-vit-base-patch32",  # its vision_config, as a CLIPVisionModel of its own
        {"architectures": ["CLIPVisionModel"], "model_type": "clip_vision_model", **CLIP_B32_VISION},
        {},
    ),
    "whisper-tiny": (
        "openai/whisper-tiny",
        {
            "architectures": ["WhisperForConditionalGeneration"],
            "model_type": "whisper",
            "d_model": 384,
            "encoder_layers": 4,
            "decoder_layers": 4,
            "encoder_attention_heads": 6,
            "decoder_attention_heads": 6,
            "encoder_ffn_dim": 1536,
            "decoder_ffn_dim": 1536,
            "num_hidden_layers": 4,
            "num_mel_bins": 80,
            "max_source_positions": 1500,
            "max_target_positions": 448,
            "vocab_size": 51865,
            "activation_function": "gelu",
            "scale_embedding": False,
            "dropout": 0.0,
            "attention_dropout": 0.0,
            "activation_dropout": 0.0,
            "pad_token_id": 50257,
            "bos_token_id": 50257,
            "eos_token_id": 50257,
            "decoder_start_token_id": 50258,
            "begin_suppress_tokens": [220, 50257],
        },
        {},
    ),
    "stable-diffusion-v1-5-text-encoder": (
        "stable-diffusion-v1-5/stable-diffusion-v1-5",  # text_encoder/config.json (openai/clip-vit-large-patch14's)
        {
            "architectures": ["CLIPTextModel"],
            "model_type": "clip_text_model",
            "hidden_size": 768,
            "intermediate_size": 3072,
            "num_attention_heads": 12,
            "num_hidden_layers": 12,
            "max_position_embeddings": 77,
            "vocab_size": 49408,
            "hidden_act": "quick_gelu",
            "layer_norm_eps": 1e-05,
            "projection_dim": 768,
            "attention_dropout": 0.0,
            "dropout": 0.0,
            "bos_token_id": 0,
            "eos_token_id": 2,
            "pad_token_id": 1,
        },
        {},
    ),
    # ---- encoders' task heads (the class the checkpoint's architectures names), ALBERT, DeBERTa-v3, wav2vec2
    "bert-base-uncased-mlm": (
        "google-bert/bert-base-uncased",
        json.loads(BERT_BASE.read_text()),  # as published: BertForMaskedLM, decoder tied to the word embeddings
        {},
    ),
    "bert-base-uncased-classifier": (
        "google-bert/bert-base-uncased",
        {**json.loads(BERT_BASE.read_text()), "architectures": ["BertForSequenceClassification"], "num_labels": 2},
        {},
    ),
    "roberta-base-mlm": (
        "FacebookAI/roberta-base",
        {
            "architectures": ["RobertaForMaskedLM"],
            "model_type": "roberta",
            "hidden_size": 768,
            "intermediate_size": 3072,
            "num_attention_heads": 12,
            "num_hidden_layers": 12,
            "vocab_size": 50265,
            "max_position_embeddings": 514,
            "type_vocab_size": 1,
            "pad_token_id": 1,
            "layer_norm_eps": 1e-05,
            "hidden_act": "gelu",
        },
        {},
    ),
    "xlm-roberta-base-mlm": (
        "FacebookAI/xlm-roberta-base",
        {
            "architectures": ["XLMRobertaForMaskedLM"],
            "model_type": "xlm-roberta",
            "hidden_size": 768,
            "intermediate_size": 3072,
            "num_attention_heads": 12,
            "num_hidden_layers": 12,
            "vocab_size": 250002,
            "max_position_embeddings": 514,
            "type_vocab_size": 1,
            "pad_token_id": 1,
            "layer_norm_eps": 1e-05,
            "hidden_act": "gelu",
        },
        {},
    ),
    "distilbert-base-uncased-mlm": (
        "distilbert/distilbert-base-uncased",
        {
            "architectures": ["DistilBertForMaskedLM"],
            "model_type": "distilbert",
            "dim": 768,
            "hidden_dim": 3072,
            "n_heads": 12,
            "n_layers": 6,
            "vocab_size": 30522,
            "max_position_embeddings": 512,
            "sinusoidal_pos_embds": False,
            "activation": "gelu",
            "pad_token_id": 0,
        },
        {},
    ),
    "electra-base-discriminator-pretraining": (
        "google/electra-base-discriminator",
        {
            "architectures": ["ElectraForPreTraining"],
            "model_type": "electra",
            "embedding_size": 768,
            "hidden_size": 768,
            "intermediate_size": 3072,
            "num_attention_heads": 12,
            "num_hidden_layers": 12,
            "vocab_size": 30522,
            "max_position_embeddings": 512,
            "type_vocab_size": 2,
            "layer_norm_eps": 1e-12,
            "hidden_act": "gelu",
        },
        {},
    ),
    "electra-base-generator": (
        "google/electra-base-generator",
        {
            "architectures": ["ElectraForMaskedLM"],
            "model_type": "electra",
            "embedding_size": 768,
            "hidden_size": 256,
            "intermediate_size": 1024,
            "num_attention_heads": 4,
            "num_hidden_layers": 12,
            "vocab_size": 30522,
            "max_position_embeddings": 512,
            "type_vocab_size": 2,
            "layer_norm_eps": 1e-12,
            "hidden_act": "gelu",
        },
        {},
    ),
    "albert-base-v2": (
        "albert/albert-base-v2",
        {
            "architectures": ["AlbertForMaskedLM"],
            "model_type": "albert",
            "embedding_size": 128,
            "hidden_size": 768,
            "intermediate_size": 3072,
            "num_attention_heads": 12,
            "num_hidden_layers": 12,
            "num_hidden_groups": 1,
            "inner_group_num": 1,
            "vocab_size": 30000,
            "max_position_embeddings": 512,
            "type_vocab_size": 2,
            "hidden_dropout_prob": 0,
            "attention_probs_dropout_prob": 0,
            "classifier_dropout_prob": 0.1,
            "layer_norm_eps": 1e-12,
            "hidden_act": "gelu_new",
            "pad_token_id": 0,
            "bos_token_id": 2,
            "eos_token_id": 3,
        },
        {},
    ),
    "deberta-v3-base": (
        "microsoft/deberta-v3-base",
        {**DEBERTA_V3_BASE, "architectures": ["DebertaV2Model"]},  # the checkpoint names no architectures
        {},
    ),
    "deberta-v3-base-mlm": (
        "microsoft/deberta-v3-base",
        {**DEBERTA_V3_BASE, "architectures": ["DebertaV2ForMaskedLM"]},  # its config with the (legacy) MLM head
        {},
    ),
    "nli-deberta-v3-base": (
        "cross-encoder/nli-deberta-v3-base",
        {
            **DEBERTA_V3_BASE,
            "architectures": ["DebertaV2ForSequenceClassification"],
            "id2label": {"0": "contradiction", "1": "entailment", "2": "neutral"},
            "pooler_dropout": 0,
            "pooler_hidden_act": "gelu",
            "pooler_hidden_size": 768,
        },
        {},
    ),
    "wav2vec2-base": (
        "facebook/wav2vec2-base",
        # the base model (the checkpoint names Wav2Vec2ForPreTraining, whose quantizer paramcalc does not write)
        {**WAV2VEC2_BASE, "architectures": ["Wav2Vec2Model"]},
        {},
    ),
    "wav2vec2-base-960h": (
        "facebook/wav2vec2-base-960h",
        {**WAV2VEC2_BASE, "architectures": ["Wav2Vec2ForCTC"], "feat_proj_dropout": 0.1, "final_dropout": 0.1},
        {},
    ),
}

# the small config of a family: these keys, where the config has them
SMALL = {
    "hidden_size": 64,
    "encoder_layers": 2,
    "decoder_layers": 2,
    "encoder_attention_heads": 4,
    "decoder_attention_heads": 4,
    "encoder_ffn_dim": 96,
    "decoder_ffn_dim": 96,
    "dim": 64,
    "hidden_dim": 96,
    "n_heads": 4,
    "n_layers": 2,
    "embedding_size": 32,
    "time_step_rank": 4,
    "state_size": 8,
    "n_routed_experts": 6,
    "n_group": 2,
    "topk_group": 1,
    "first_k_dense_replace": 1,
    "q_lora_rank": 24,
    "kv_lora_rank": 16,
    "qk_nope_head_dim": 8,
    "qk_rope_head_dim": 4,
    "v_head_dim": 12,
    "d_model": 64,
    "d_kv": 16,
    "d_ff": 96,
    "num_heads": 4,
    "num_layers": 2,
    "num_decoder_layers": 2,
    "image_size": 32,
    "patch_size": 8,
    "num_labels": 10,
    "n_embd": 64,
    "n_head": 4,
    "n_layer": 3,
    "n_positions": 64,
    "ffn_dim": 96,
    "word_embed_proj_dim": 64,
    "rotary_dim": 8,
    "intermediate_size": 96,
    "moe_intermediate_size": 32,
    "shared_expert_intermediate_size": 48,
    "num_attention_heads": 4,
    "head_dim": 16,
    "num_hidden_layers": 3,
    "vocab_size": 128,
    "num_local_experts": 4,
    "num_experts": 6,
    "num_experts_per_tok": 2,
    "sliding_window": 4,
    "sliding_window_pattern": 2,
    "max_window_layers": 1,
    "max_position_embeddings": 64,
    "conv_dim": [32] * 7,
    "num_conv_pos_embeddings": 16,
    "num_conv_pos_embedding_groups": 4,
    "pooler_hidden_size": 64,
}


# hfvis: the small config of the families whose sizes are per-stage lists (swin's num_heads is one)
SMALL_BY_TYPE = {
    "convnext": {"depths": [1, 2, 1, 1], "hidden_sizes": [8, 16, 24, 32], "image_size": 64, "num_labels": 10},
    "clip": {
        "projection_dim": 16,
        "text_config": {**CLIP_B32_TEXT, **{k: SMALL[k] for k in CLIP_B32_TEXT if k in SMALL}},
        "vision_config": {**CLIP_B32_VISION, **{k: SMALL[k] for k in CLIP_B32_VISION if k in SMALL}},
    },
    # 32 frames of 8 mel bins; token ids inside the small vocabulary (and 3 encoder layers: num_hidden_layers,
    # WhisperConfig's alias of encoder_layers, wins over encoder_layers' 2)
    "whisper": {
        "num_mel_bins": 8,
        "max_source_positions": 16,
        "max_target_positions": 32,
        "pad_token_id": 1,
        "bos_token_id": 1,
        "eos_token_id": 1,
        "decoder_start_token_id": 2,
        "begin_suppress_tokens": [1],
    },
    # stages of 16², 8² and 4² patches in windows of 4 (shifted in the first two stages)
    "swin": {
        "depths": [2, 2, 1],
        "num_heads": [2, 2, 4],
        "embed_dim": 16,
        "hidden_size": 64,
        "num_layers": 3,
        "window_size": 4,
        "patch_size": 2,
        "image_size": 32,
    },
}


def small_inputs(config: dict) -> dict | None:
    """hfvis: the inputs of the vision and speech families."""
    if config["model_type"] in ("convnext", "swin", "clip_vision_model"):
        size = config["image_size"]
        return {"pixel_values": torch.randn(1, config["num_channels"], size, size)}
    if config["model_type"] == "whisper":
        frames = torch.randn(1, config["num_mel_bins"], 2 * config["max_source_positions"])
        return {"input_features": frames, "decoder_input_ids": torch.randint(0, config["vocab_size"], (1, SEQ))}
    if config["model_type"] == "clip":
        size, vocab = config["vision_config"]["image_size"], config["text_config"]["vocab_size"]
        return {"input_ids": torch.randint(0, vocab, (1, SEQ)), "pixel_values": torch.randn(1, 3, size, size)}
    return None


def small(config: dict) -> dict:
    out = {k: (SMALL[k] if k in SMALL and config[k] is not None else v) for k, v in config.items()}
    if "num_key_value_heads" in out:
        out["num_key_value_heads"] = 2 if config["num_key_value_heads"] < config["num_attention_heads"] else 4
    if config["model_type"] == "phi3":  # its default pad_token_id 32000 is past a small vocabulary
        out["pad_token_id"] = None
    if isinstance(out.get("layer_types"), list):
        out["layer_types"] = out["layer_types"][: SMALL["num_hidden_layers"]]
    out.update(SMALL_BY_TYPE.get(config["model_type"], {}))
    if "rope_scaling" in out and out["rope_scaling"]:
        out["rope_scaling"] = {**out["rope_scaling"], "original_max_position_embeddings": 16}
    return out


def build(config: dict):
    cfg = transformers.AutoConfig.for_model(**config)
    cls = getattr(transformers, config["architectures"][0])
    # eager attention and experts: every product a matmul FlopCounterMode sees (its grouped_mm experts are not)
    return cls._from_config(cfg, attn_implementation="eager", experts_implementation="eager")


def counts(model) -> dict:
    params = sum(p.numel() for p in model.parameters())  # a tied weight is one parameter
    buffers = sum(b.numel() for b in model.buffers())
    return {"class": type(model).__name__, "params": params, "buffers": buffers}


def active(model, config: dict) -> int | None:
    """Every parameter but the routed experts a token does not use (num_experts − top_k per MoE layer)."""
    experts = config.get("num_local_experts") or config.get("num_experts") or config.get("n_routed_experts")
    if not experts:
        return None
    top_k = config["num_experts_per_tok"]
    unused = 0
    for name, module in model.named_modules():
        if name.endswith(".experts"):
            unused += sum(p.numel() for p in module.parameters()) * (experts - top_k) // experts
    return sum(p.numel() for p in model.parameters()) - unused


def macs(model, config: dict) -> dict:
    torch.manual_seed(0)
    model.eval()
    if (own := small_inputs(config)) is not None:
        inputs = own
    elif config["model_type"] == "vit":
        size = config["image_size"]
        inputs = {"pixel_values": torch.randn(1, config["num_channels"], size, size)}
    else:
        inputs = {"input_ids": torch.randint(0, config["vocab_size"], (1, SEQ))}
    if config["model_type"] in ("t5", "bart"):
        inputs["decoder_input_ids"] = torch.randint(0, config["vocab_size"], (1, SEQ))
    if config["model_type"] == "wav2vec2":  # the waveform
        inputs = {"input_values": torch.randn(1, SAMPLES)}
    counter = FlopCounterMode(display=False)
    # (Mamba: its hub-kernel conv wrapper trips the flop counter's module tracker under no_grad)
    with torch.set_grad_enabled(config["model_type"] == "mamba"), counter:
        out = model(**inputs)
    rotary = sum(
        sum(ops.values()) for name, ops in counter.get_flop_counts().items() if name.split(".")[-1].startswith("rotary")
    )
    total = counter.get_total_flops()
    logits = getattr(out, "logits", getattr(out, "logits_per_image", None))  # (CLIPModel's: images × texts)
    if logits is None:  # a base model: its pooled output where it has a pooler, else its last hidden states
        logits = out.pooler_output if getattr(out, "pooler_output", None) is not None else out.last_hidden_state
    return {"macs": (total - rotary) // 2, "rotary_macs": rotary // 2, "output_shape": list(logits.shape[1:])}


def record(name: str) -> dict:
    checkpoint, config, published = CONFIGS[name]
    with torch.device("meta"):
        model = build(config)
    entry = {"checkpoint": checkpoint, "config": config, **counts(model)}
    n = active(model, config)
    if n is not None:
        entry["active_params"] = n
    for key, value in published.items():
        if entry[key] != value:
            raise SystemExit(f"{name}: {key} {entry[key]:,} differs from the published {value:,}")
    entry["published"] = published
    del model
    cfg = small(config)
    torch.manual_seed(0)
    model = build(cfg)
    entry["small"] = {"config": cfg, "seq": SEQ, **counts(model), **macs(model, cfg)}
    if cfg["model_type"] == "wav2vec2":  # its --seq is the number of samples
        entry["small"]["seq"] = SAMPLES
    n = active(model, cfg)
    if n is not None:
        entry["small"]["active_params"] = n
    return entry


def main() -> None:
    names = sys.argv[1:] or list(CONFIGS)
    models = json.loads(OUT.read_text())["models"] if OUT.exists() and sys.argv[1:] else {}
    for name in names:
        models[name] = record(name)
        print(name, models[name]["class"], f"{models[name]['params']:,}", models[name]["small"]["macs"], flush=True)
    models = {name: models[name] for name in CONFIGS if name in models}
    OUT.write_text(
        json.dumps({"torch": torch.__version__, "transformers": transformers.__version__, "models": models}, indent=1)
        + "\n"
    )


if __name__ == "__main__":
    main()
