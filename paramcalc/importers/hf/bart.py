"""BART (BartForConditionalGeneration): a post-norm encoder and decoder with learned positions offset by 2,
token embeddings shared by both and by the LM head, cross-attention to the encoder's output, and a
final_logits_bias buffer, as transformers builds it."""

from __future__ import annotations

from .common import GELU, Config, activation_entry, named_entry, projected_attention


def _feed_forward(d: int, ff: int, act, residual: str) -> list:
    return [
        named_entry("linear", "fc1", out=ff),
        activation_entry(act, "activation_fn"),
        named_entry("linear", "fc2", out=d),
        {"add": {"from": residual}},
        {"layernorm": {"name": "final_layer_norm"}},
    ]


def bart(c: Config, family: str, seq: int) -> dict:
    d, vocab, positions = c.int("d_model"), c.int("vocab_size"), c.int("max_position_embeddings")
    act = c.activation("activation_function", "gelu", GELU)
    encoder_layer = {
        "layers": [
            projected_attention("self_attn", d, c.int("encoder_attention_heads"), False, "input"),
            {"add": {"from": "input"}},
            {"layernorm": {"name": "self_attn_layer_norm"}},
            *_feed_forward(d, c.int("encoder_ffn_dim"), act, "self_attn_layer_norm"),
        ]
    }
    decoder_layer = {
        "layers": [
            projected_attention("self_attn", d, c.int("decoder_attention_heads"), True, "input"),
            {"add": {"from": "input"}},
            {"layernorm": {"name": "self_attn_layer_norm"}},
            projected_attention("encoder_attn", d, c.int("decoder_attention_heads"), False, "model.encoder.encoded"),
            {"add": {"from": "self_attn_layer_norm"}},
            {"layernorm": {"name": "encoder_attn_layer_norm"}},
            *_feed_forward(d, c.int("decoder_ffn_dim"), act, "encoder_attn_layer_norm"),
        ]
    }

    def stack(name: str, ids: str, positions_input: str, block: str, layers: int) -> dict:
        # the encoder reads model.shared itself (its embed_tokens is the same tensor); the decoder's is tied to it
        tokens = (
            [named_entry("embedding", "embed_tokens", num=vocab, dim=d, tie="model.shared", **{"from": ids})]
            if name == "decoder"
            else []
        )
        return {
            "name": name,
            "layers": [
                *tokens,
                # learned positions, offset by 2 (BartLearnedPositionalEmbedding): max_position_embeddings + 2 rows
                named_entry("embedding", "embed_positions", num=positions + 2, dim=d, **{"from": positions_input}),
                {"add": {"from": ["embed_tokens" if name == "decoder" else "model.shared", "embed_positions"]}},
                {"layernorm": {"name": "layernorm_embedding"}},
                {"repeat": layers, "name": "layers", block: {}},
                *([{"identity": {"name": "encoded"}}] if name == "encoder" else []),
            ],
        }

    head = named_entry("linear", "lm_head", out=vocab, bias=False, **{"from": "model.decoder"})
    if c.flag("tie_word_embeddings", True):
        head["linear"]["tie"] = "model.shared"
    return {
        "inputs": {
            "input_ids": [seq],
            "position_ids": [seq],
            "decoder_input_ids": [seq],
            "decoder_position_ids": [seq],
        },
        "blocks": {"encoder_layer": encoder_layer, "decoder_layer": decoder_layer},
        "layers": [
            {
                "name": "model",
                "from": "input_ids",
                "layers": [
                    named_entry("embedding", "shared", num=vocab, dim=d, **{"from": "input_ids"}),
                    stack("encoder", "input_ids", "position_ids", "encoder_layer", c.int("encoder_layers")),
                    stack(
                        "decoder", "decoder_input_ids", "decoder_position_ids", "decoder_layer", c.int("decoder_layers")
                    ),
                ],
            },
            {"buffer": {"shape": [1, vocab], "name": "final_logits_bias"}},
            head,
        ],
    }
