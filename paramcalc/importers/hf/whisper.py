"""Whisper (WhisperForConditionalGeneration): a convolutional front end on the log-mel features, a pre-norm
encoder with fixed sinusoidal positions (a frozen embedding), a pre-norm decoder with learned positions,
self- and cross-attention, and proj_out tied to the decoder's token embedding, as transformers builds it."""

from __future__ import annotations

from ...errors import SpecError
from .common import GELU, Config, activation_entry, named_entry, projected_attention


def _whisper_attention(name: str, d: int, heads: int, causal: bool, kv_from: str) -> dict:
    """WhisperAttention: q, v and out projections with biases, k without."""
    return projected_attention(name, d, heads, causal, kv_from, k_bias=False)


def _feed_forward(d: int, ff: int, act) -> list:
    return [
        {"layernorm": {"name": "final_layer_norm"}},
        named_entry("linear", "fc1", out=ff),
        activation_entry(act, "activation_fn"),
        named_entry("linear", "fc2", out=d),
    ]


# WhisperConfig's attribute_map: these names set the value of another (and win over it, set after it)
ALIASES = {
    "d_model": ("hidden_size",),
    "encoder_layers": ("num_hidden_layers",),
    "encoder_attention_heads": ("num_attention_heads", "num_key_value_heads"),
}


def _int(c: Config, key: str) -> int:
    """A value as WhisperConfig sets it: the last of its aliases in the config, else its own key."""
    given = [name for name in c.raw if name in ALIASES.get(key, ()) and c.raw[name] is not None]
    return c.int(given[-1] if given else key)


def whisper(c: Config, family: str, seq: int) -> dict:
    d, vocab = _int(c, "d_model"), c.int("vocab_size")
    mels, sources, targets = c.int("num_mel_bins", 80), c.int("max_source_positions"), c.int("max_target_positions")
    if seq > targets:
        raise SpecError(
            f"{c.source}: --seq {seq:,} is more than the decoder's {targets:,} positions (max_target_positions)"
        )
    act = c.activation("activation_function", "gelu", GELU)
    encoder_layer = {
        "layers": [
            {"layernorm": {"name": "self_attn_layer_norm"}},
            _whisper_attention("self_attn", d, _int(c, "encoder_attention_heads"), False, "input"),
            {"add": {"from": "input", "name": "residual"}},
            *_feed_forward(d, c.int("encoder_ffn_dim"), act),
            {"add": {"from": "residual"}},
        ]
    }
    heads = c.int("decoder_attention_heads")
    decoder_layer = {
        "layers": [
            {"layernorm": {"name": "self_attn_layer_norm"}},
            _whisper_attention("self_attn", d, heads, True, "input"),
            {"add": {"from": "input", "name": "residual"}},
            {"layernorm": {"name": "encoder_attn_layer_norm"}},
            _whisper_attention("encoder_attn", d, heads, False, "model.encoder.layer_norm"),
            {"add": {"from": "residual", "name": "cross_residual"}},
            *_feed_forward(d, c.int("decoder_ffn_dim"), act),
            {"add": {"from": "cross_residual"}},
        ]
    }
    head = named_entry("linear", "proj_out", out=vocab, bias=False, **{"from": "model.decoder"})
    if c.flag("tie_word_embeddings", True):
        head["linear"]["tie"] = "model.decoder.embed_tokens"
    return {
        # the encoder reads exactly 2 · max_source_positions frames (30 s of audio), as transformers requires
        "inputs": {"input_features": [mels, 2 * sources], "decoder_input_ids": [seq], "decoder_position_ids": [seq]},
        "blocks": {"encoder_layer": encoder_layer, "decoder_layer": decoder_layer},
        "layers": [
            {
                "name": "model",
                "from": "input_features",
                "layers": [
                    {
                        "name": "encoder",
                        "from": "input_features",
                        "layers": [
                            named_entry("conv1d", "conv1", out=d, kernel=3, padding=1),
                            {"gelu": {}},
                            named_entry("conv1d", "conv2", out=d, kernel=3, stride=2, padding=1),
                            {"gelu": {}},
                            {"permute": {"dims": [0, 2, 1], "name": "frames"}},  # (max_source_positions, d_model)
                            # sinusoids in a frozen embedding, every position added
                            {"parameter": {"shape": [sources, d], "requires_grad": False, "name": "embed_positions"}},
                            {"add": {"from": ["frames", "embed_positions"]}},
                            {"repeat": _int(c, "encoder_layers"), "name": "layers", "encoder_layer": {}},
                            {"layernorm": {"name": "layer_norm"}},
                        ],
                    },
                    {
                        "name": "decoder",
                        "from": "decoder_input_ids",
                        "layers": [
                            named_entry("embedding", "embed_tokens", num=vocab, dim=d, **{"from": "decoder_input_ids"}),
                            named_entry(
                                "embedding", "embed_positions", num=targets, dim=d, **{"from": "decoder_position_ids"}
                            ),
                            {"add": {"from": ["embed_tokens", "embed_positions"]}},
                            {"repeat": c.int("decoder_layers"), "name": "layers", "decoder_layer": {}},
                            {"layernorm": {"name": "layer_norm"}},
                        ],
                    },
                ],
            },
            head,
        ],
    }
