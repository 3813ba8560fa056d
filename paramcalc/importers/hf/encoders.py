"""GPT-2, BERT, ViT and T5."""

from __future__ import annotations

from ...errors import SpecError, describe
from .common import GELU, Config, activation_entry, bert_embeddings, named_entry

# ---------------------------------------------------------------- gpt2


def _gpt2(c: Config, seq: int) -> dict:
    d = c.int("n_embd")
    positions = c.int("n_positions")
    eps = c.number("layer_norm_epsilon", 1e-5)
    inner = c.int("n_inner", 4 * d) if c.raw.get("n_inner") is not None else 4 * d
    heads = c.int("n_head")
    if d % heads:
        raise SpecError(f"{c.source}: n_head ({heads}) must divide n_embd ({d})")
    act = c.activation("activation_function", "gelu_new", GELU)
    block = {
        "layers": [
            {"layernorm": {"eps": eps, "name": "ln_1"}},
            {
                "name": "attn",
                "layers": [
                    named_entry("linear", "c_attn", out=3 * d),  # q, k and v in one projection
                    {"attention": {"heads": heads, "causal": True, "name": "attention"}},
                    named_entry("linear", "c_proj", out=d),
                ],
            },
            {"add": {"from": "input", "name": "residual"}},
            {"layernorm": {"eps": eps, "name": "ln_2"}},
            {
                "name": "mlp",
                "layers": [
                    named_entry("linear", "c_fc", out=inner),
                    activation_entry(act, "act"),
                    named_entry("linear", "c_proj", out=d),
                ],
            },
            {"add": {"from": "residual"}},
        ]
    }
    head = named_entry("linear", "lm_head", out=c.int("vocab_size"), bias=False)
    if c.flag("tie_word_embeddings", True):
        head["linear"]["tie"] = "transformer.wte"
    return {
        "inputs": {"input_ids": [seq], "position_ids": [seq]},
        "blocks": {"block": block},
        "layers": [
            {
                "name": "transformer",
                "from": "input_ids",
                "layers": [
                    named_entry("embedding", "wte", num=c.int("vocab_size"), dim=d, **{"from": "input_ids"}),
                    named_entry("embedding", "wpe", num=positions, dim=d, **{"from": "position_ids"}),
                    {"add": {"from": ["wte", "wpe"]}},
                    {"dropout": {"p": c.number("embd_pdrop", 0.1), "name": "drop"}},
                    {"repeat": c.int("n_layer"), "name": "h", "block": {}},
                    {"layernorm": {"eps": eps, "name": "ln_f"}},
                ],
            },
            head,
        ],
    }


# ---------------------------------------------------------------- bert, vit (post-norm / pre-norm encoders)


def _qkv(d: int, heads: int, bias: bool, names=("query", "key", "value")) -> list:
    """q, k and v projections of the group's input and the (bidirectional) attention operation."""
    if d % heads:
        raise SpecError(f"num_attention_heads ({heads}) must divide hidden_size ({d})")
    q, k, v = names
    return [
        named_entry("linear", q, out=d, bias=bias),
        named_entry("linear", k, out=d, bias=bias, **{"from": "input"}),
        named_entry("linear", v, out=d, bias=bias, **{"from": "input"}),
        {"attention": {"heads": heads, "from": [q, k, v], "name": "attention"}},
    ]


def _bert(c: Config, seq: int, electra: bool = False) -> dict:
    """BERT (and RoBERTa, XLM-R) as the base model with its pooler; ELECTRA's embeddings are embedding_size
    wide, projected to hidden_size by embeddings_project where they differ, and it has no pooler."""
    d, eps = c.int("hidden_size"), c.number("layer_norm_eps", 1e-12)
    e = c.int("embedding_size", d) if electra else d
    act = c.activation("hidden_act", "gelu", GELU)
    layer = {
        "layers": [
            {"identity": {"name": "hidden_states"}},  # the layer's input, named for the residual below
            {
                "name": "attention",
                "layers": [
                    {"name": "self", "layers": _qkv(d, c.int("num_attention_heads"), True)},
                    {
                        "name": "output",
                        "layers": [
                            named_entry("linear", "dense", out=d),  # reads the attention output (shaped as the query)
                            {"dropout": {"p": c.number("hidden_dropout_prob", 0.1), "name": "dropout"}},
                            {"add": {"from": "hidden_states"}},
                            {"layernorm": {"eps": eps, "name": "LayerNorm"}},
                        ],
                    },
                ],
            },
            {
                "name": "intermediate",
                "layers": [
                    named_entry("linear", "dense", out=c.int("intermediate_size")),
                    activation_entry(act, "intermediate_act_fn"),
                ],
            },
            {
                "name": "output",
                "layers": [
                    named_entry("linear", "dense", out=d),
                    {"dropout": {"p": c.number("hidden_dropout_prob", 0.1), "name": "dropout"}},
                    {"add": {"from": "attention"}},
                    {"layernorm": {"eps": eps, "name": "LayerNorm"}},
                ],
            },
        ]
    }
    return {
        "inputs": {"input_ids": [seq], "position_ids": [seq], "token_type_ids": [seq]},
        "blocks": {"bert_layer": layer},
        "layers": [
            bert_embeddings(c, e, eps, ("word_embeddings", "position_embeddings", "token_type_embeddings"), 0.1),
            *([named_entry("linear", "embeddings_project", out=d)] if e != d else []),
            {"name": "encoder", "layers": [{"repeat": c.int("num_hidden_layers"), "name": "layer", "bert_layer": {}}]},
            *(
                []
                if electra
                else [
                    {
                        "name": "pooler",
                        "layers": [
                            {"select": {"dim": 1, "index": 0}},
                            named_entry("linear", "dense", out=d),
                            {"tanh": {"name": "activation"}},
                        ],
                    }
                ]
            ),
        ],
        "pooler": 0 if electra else 1,  # the last entry: a head without the pooler drops it
    }


def _distilbert(c: Config, seq: int) -> dict:
    """DistilBERT's base model: word and position embeddings, then post-norm layers (q_lin, k_lin, v_lin,
    out_lin, sa_layer_norm; lin1, lin2, output_layer_norm)."""
    d, heads = c.int("dim"), c.int("n_heads")
    if c.flag("sinusoidal_pos_embds", False):
        raise SpecError(f"{c.source}: 'sinusoidal_pos_embds: true' is not supported")
    act = c.activation("activation", "gelu", GELU)
    dropout = c.number("dropout", 0.1)
    layer = {
        "layers": [
            {
                "name": "attention",
                "layers": [*_qkv(d, heads, True, ("q_lin", "k_lin", "v_lin")), named_entry("linear", "out_lin", out=d)],
            },
            {"add": {"from": "input"}},
            {"layernorm": {"eps": 1e-12, "name": "sa_layer_norm"}},
            {
                "name": "ffn",
                "layers": [
                    named_entry("linear", "lin1", out=c.int("hidden_dim")),
                    activation_entry(act, "activation"),
                    named_entry("linear", "lin2", out=d),
                    {"dropout": {"p": dropout, "name": "dropout"}},
                ],
            },
            {"add": {"from": "sa_layer_norm"}},
            {"layernorm": {"eps": 1e-12, "name": "output_layer_norm"}},
        ]
    }
    positions = c.int("max_position_embeddings")
    return {
        "inputs": {"input_ids": [seq], "position_ids": [seq]},
        "blocks": {"transformer_block": layer},
        "layers": [
            {
                "name": "embeddings",
                "from": "input_ids",
                "layers": [
                    {"name": "ids", "layers": [{"buffer": {"shape": [1, positions], "name": "position_ids"}}]},
                    named_entry(
                        "embedding", "word_embeddings", num=c.int("vocab_size"), dim=d, **{"from": "input_ids"}
                    ),
                    named_entry("embedding", "position_embeddings", num=positions, dim=d, **{"from": "position_ids"}),
                    {"add": {"from": ["word_embeddings", "position_embeddings"]}},
                    {"layernorm": {"eps": 1e-12, "name": "LayerNorm"}},
                    {"dropout": {"p": dropout, "name": "dropout"}},
                ],
            },
            {
                "name": "transformer",
                "layers": [{"repeat": c.int("n_layers"), "name": "layer", "transformer_block": {}}],
            },
        ],
    }


def _vit(c: Config, seq: int) -> dict:
    d, eps = c.int("hidden_size"), c.number("layer_norm_eps", 1e-12)
    size, patch, channels = c.int("image_size", 224), c.int("patch_size", 16), c.int("num_channels", 3)
    if size % patch:
        raise SpecError(f"{c.source}: patch_size ({patch}) must divide image_size ({size})")
    tokens = (size // patch) ** 2 + 1
    bias = c.flag("qkv_bias", True)
    act = c.activation("hidden_act", "gelu", GELU)
    labels = c.raw.get("id2label")
    classes = len(labels) if isinstance(labels, dict) and labels else c.int("num_labels", 2)
    layer = {
        "layers": [
            {"layernorm": {"eps": eps, "name": "layernorm_before"}},
            {
                "name": "attention",
                "layers": [
                    {"name": "attention", "layers": _qkv(d, c.int("num_attention_heads"), bias)},
                    {"name": "output", "layers": [named_entry("linear", "dense", out=d)]},
                ],
            },
            {"add": {"from": "input", "name": "residual"}},
            {"layernorm": {"eps": eps, "name": "layernorm_after"}},
            {
                "name": "intermediate",
                "layers": [
                    named_entry("linear", "dense", out=c.int("intermediate_size")),
                    activation_entry(act, "intermediate_act_fn"),
                ],
            },
            {"name": "output", "layers": [named_entry("linear", "dense", out=d)]},
            {"add": {"from": "residual"}},
        ]
    }
    return {
        "input": [channels, size, size],
        "blocks": {"vit_layer": layer},
        "layers": [
            {
                "name": "vit",
                "layers": [
                    {
                        "name": "embeddings",
                        "layers": [
                            {
                                "name": "patch_embeddings",
                                "layers": [named_entry("conv2d", "projection", out=d, kernel=patch, stride=patch)],
                            },
                            {"flatten": {"start_dim": 2}},
                            {"transpose": {"dim0": 1, "dim1": 2, "name": "patches"}},
                            {"parameter": {"shape": [1, d], "name": "cls_token"}},
                            {"concat": {"from": ["cls_token", "patches"], "dim": 1}},
                            {"parameter": {"shape": [tokens, d], "name": "position_embeddings"}},
                            {"add": {"from": "position_embeddings"}},
                        ],
                    },
                    {
                        "name": "encoder",
                        "layers": [{"repeat": c.int("num_hidden_layers"), "name": "layer", "vit_layer": {}}],
                    },
                    {"layernorm": {"eps": eps, "name": "layernorm"}},
                ],
            },
            {"select": {"dim": 1, "index": 0}},
            named_entry("linear", "classifier", out=classes),
        ],
    }


# ---------------------------------------------------------------- t5 (encoder-decoder)


def _t5(c: Config, seq: int) -> dict:
    d, kv, heads = c.int("d_model"), c.int("d_kv"), c.int("num_heads")
    inner, ff = heads * kv, c.int("d_ff")
    eps = c.number("layer_norm_epsilon", 1e-6)
    buckets = c.int("relative_attention_num_buckets", 32)
    projection = c.raw.get("feed_forward_proj", "relu")
    if not isinstance(projection, str) or projection.removeprefix("gated-") not in ("relu", "gelu", "gelu_new"):
        raise SpecError(
            f"{c.source}: 'feed_forward_proj' expects relu, gated-gelu or the like, found {describe(projection)}"
        )
    gated = projection.startswith("gated-")
    act = GELU["gelu_new" if gated and projection.endswith("gelu") else projection.removeprefix("gated-")]

    def attention(name, cross: bool, causal: bool = False):
        kv_from = {"from": "encoder.dropout"} if cross else {"from": "input"}
        layers = [
            named_entry("linear", "q", out=inner, bias=False),
            named_entry("linear", "k", out=inner, bias=False, **kv_from),
            named_entry("linear", "v", out=inner, bias=False, **kv_from),
            # T5 scales no logits and adds its relative position bias, whose table (buckets × heads) lives in
            # the first block of each stack: the attention operation holds it there, named as the checkpoint's
            {
                "attention": {
                    "heads": heads,
                    "head_dim": kv,
                    "causal": causal,
                    **({} if cross else {"relative_buckets": "${buckets if relative else 0}"}),
                    "from": ["q", "k", "v"],
                    "name": "attention" if cross else "${'relative_attention_bias' if relative else 'attention'}",
                }
            },
            named_entry("linear", "o", out=d, bias=False),
        ]
        return {"name": name, "layers": layers}

    def sublayer(index, body):
        return {
            "name": str(index),
            "layers": [
                {"rmsnorm": {"eps": eps, "name": "layer_norm"}},
                body,
                {"dropout": {"p": c.number("dropout_rate", 0.1), "name": "dropout"}},
                {"add": {"from": "input"}},
            ],
        }

    wi = (
        [
            named_entry("linear", "wi_0", out=ff, bias=False),
            activation_entry(act, "act"),
            named_entry("linear", "wi_1", out=ff, bias=False, **{"from": "input"}),
            {"mul": {"from": ["act", "wi_1"]}},
        ]
        if gated
        else [named_entry("linear", "wi", out=ff, bias=False), activation_entry(act, "act")]
    )
    feed_forward = {"name": "DenseReluDense", "layers": [*wi, named_entry("linear", "wo", out=d, bias=False)]}
    encoder_block = {
        "args": {"relative": False, "buckets": buckets},
        "layers": [
            {"name": "layer", "layers": [sublayer(0, attention("SelfAttention", False)), sublayer(1, feed_forward)]}
        ],
    }
    decoder_block = {
        "args": {"relative": False, "buckets": buckets},
        "layers": [
            {
                "name": "layer",
                "layers": [
                    sublayer(0, attention("SelfAttention", False, causal=True)),
                    sublayer(1, attention("EncDecAttention", True)),
                    sublayer(2, feed_forward),
                ],
            }
        ],
    }
    vocab = c.int("vocab_size")
    head = named_entry("linear", "lm_head", out=vocab, bias=False)
    if c.flag("tie_word_embeddings", True):
        head["linear"]["tie"] = "shared"
    return {
        "inputs": {"input_ids": [seq], "decoder_input_ids": [seq]},
        "blocks": {"encoder_block": encoder_block, "decoder_block": decoder_block},
        "layers": [
            named_entry("embedding", "shared", num=vocab, dim=d, **{"from": "input_ids"}),
            {
                "name": "encoder",
                "layers": [
                    {"repeat": c.int("num_layers"), "name": "block", "encoder_block": {}, "first": {"relative": True}},
                    {"rmsnorm": {"eps": eps, "name": "final_layer_norm"}},
                    {"dropout": {"p": c.number("dropout_rate", 0.1), "name": "dropout"}},  # what the decoder reads
                ],
            },
            {
                "name": "decoder",
                "layers": [
                    named_entry(
                        "embedding", "embed_tokens", num=vocab, dim=d, tie="shared", **{"from": "decoder_input_ids"}
                    ),
                    {
                        "repeat": c.int("num_decoder_layers", c.int("num_layers")),
                        "name": "block",
                        "decoder_block": {},
                        "first": {"relative": True},
                    },
                    {"rmsnorm": {"eps": eps, "name": "final_layer_norm"}},
                ],
            },
            head,
        ],
    }
