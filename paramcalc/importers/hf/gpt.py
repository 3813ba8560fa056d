"""GPT-style decoders with their own module names: gpt_neox (Pythia), gptj, opt, bloom and falcon. Fused
query_key_value projections, parallel attention and MLP, learned positions with OPT's offset of 2, and
ALiBi (BLOOM), each as transformers builds it."""

from __future__ import annotations

from ...errors import SpecError
from .common import GELU, Config, activation_entry, named_entry, rope_fields, rope_number


def _op(heads: int, kv: int, head_dim: int, source, **fields) -> dict:
    """The causal attention operation reading q, k and v (or one packed q|k|v)."""
    return {
        "attention": {
            "heads": heads,
            "kv_heads": kv,
            "head_dim": head_dim,
            "causal": True,
            **fields,
            "from": source,
            "name": "attention",
        }
    }


def _ln(eps: float, name: str, **more) -> dict:
    return {"layernorm": {"eps": eps, "name": name, **more}}


def _rotary(rotary_dim: int, *names: str) -> dict:
    return {
        "name": "rotary_emb",
        "layers": [{"buffer": {"shape": [rotary_dim // 2], "persistent": False, "name": name}} for name in names],
    }


def _head_dim(hidden: int, heads: int, c: Config) -> int:
    if hidden % heads:
        raise SpecError(f"{c.source}: the attention heads ({heads}) must divide the hidden size ({hidden})")
    return hidden // heads


def _lm(c: Config, seq: int, base: str, layers: list, blocks: dict, tie_to: str, tie_default: bool, bias=False):
    head = named_entry("linear", "lm_head", out=c.int("vocab_size"), bias=bias)
    if c.flag("tie_word_embeddings", tie_default):
        head["linear"]["tie"] = tie_to
    return {
        "inputs": {"input_ids": [seq]},
        "blocks": blocks,
        "layers": [{"name": base, "from": "input_ids", "layers": layers}, head],
    }


def gpt_neox(c: Config, seq: int) -> dict:
    hidden, heads = c.int("hidden_size"), c.int("num_attention_heads")
    d = _head_dim(hidden, heads, c)
    eps = c.number("layer_norm_eps", 1e-5)
    rotary = int(
        d * (c.number("rotary_pct", 0.25) if "rotary_pct" in c.raw else rope_number(c, "partial_rotary_factor", 0.25))
    )
    act = c.activation("hidden_act", "gelu", GELU)
    parallel = c.flag("use_parallel_residual", True)
    attention = {
        "name": "attention",
        "layers": [
            named_entry("linear", "query_key_value", out=3 * hidden),
            # per head its q, k and v; the base is rotary_emb_base in older configs
            _op(
                heads,
                heads,
                d,
                "query_key_value",
                position="rope",
                rotary_dim=rotary,
                packing="heads",
                **rope_fields(c, theta_key="rotary_emb_base"),
            ),
            named_entry("linear", "dense", out=hidden),
        ],
    }
    mlp = [
        named_entry("linear", "dense_h_to_4h", out=c.int("intermediate_size")),
        activation_entry(act, "act"),
        named_entry("linear", "dense_4h_to_h", out=hidden),
    ]
    if parallel:  # x + attention(ln1(x)) + mlp(ln2(x))
        body = [
            _ln(eps, "input_layernorm"),
            attention,
            _ln(eps, "post_attention_layernorm", **{"from": "input"}),
            {"name": "mlp", "layers": mlp},
            {"add": {"from": ["input", "attention", "mlp"]}},
        ]
    else:
        body = [
            _ln(eps, "input_layernorm"),
            attention,
            {"add": {"from": "input", "name": "residual"}},
            _ln(eps, "post_attention_layernorm"),
            {"name": "mlp", "layers": mlp},
            {"add": {"from": "residual"}},
        ]
    layers = [
        named_entry("embedding", "embed_in", num=c.int("vocab_size"), dim=hidden, **{"from": "input_ids"}),
        _rotary(rotary, "inv_freq", "original_inv_freq"),
        {"repeat": c.int("num_hidden_layers"), "name": "layers", "layer": {}, "from": "embed_in"},
        _ln(eps, "final_layer_norm"),
    ]
    spec = _lm(c, seq, "gpt_neox", layers, {"layer": {"layers": body}}, "gpt_neox.embed_in", False)
    spec["layers"][1]["linear"]["name"] = "embed_out"
    return spec


def gptj(c: Config, seq: int) -> dict:
    hidden, heads = c.int("n_embd"), c.int("n_head")
    d = _head_dim(hidden, heads, c)
    eps = c.number("layer_norm_epsilon", 1e-5)
    rotary = c.int("rotary_dim", d) if c.raw.get("rotary_dim") is not None else d
    inner = c.int("n_inner") if c.raw.get("n_inner") is not None else 4 * hidden
    act = c.activation("activation_function", "gelu_new", GELU)
    body = [
        _ln(eps, "ln_1"),
        {
            "name": "attn",
            "layers": [
                named_entry("linear", "q_proj", out=hidden, bias=False),
                named_entry("linear", "k_proj", out=hidden, bias=False, **{"from": "input"}),
                named_entry("linear", "v_proj", out=hidden, bias=False, **{"from": "input"}),
                _op(
                    heads,
                    heads,
                    d,
                    ["q_proj", "k_proj", "v_proj"],
                    position="rope",
                    rotary_dim=rotary,
                    **rope_fields(c, interleaved=True),
                ),
                named_entry("linear", "out_proj", out=hidden, bias=False),
            ],
        },
        {
            "name": "mlp",
            "from": "ln_1",
            "layers": [
                named_entry("linear", "fc_in", out=inner),
                activation_entry(act, "act"),
                named_entry("linear", "fc_out", out=hidden),
            ],
        },
        {"add": {"from": ["input", "attn", "mlp"]}},  # attention and MLP in parallel on ln_1
    ]
    layers = [
        named_entry("embedding", "wte", num=c.int("vocab_size"), dim=hidden, **{"from": "input_ids"}),
        # the sin and cos table of every position, a buffer of n_positions × rotary_dim
        {
            "name": "rotary_emb",
            "layers": [
                {"buffer": {"shape": [c.int("n_positions"), rotary], "persistent": False, "name": "embed_positions"}}
            ],
        },
        {"repeat": c.int("n_layer"), "name": "h", "block": {}, "from": "wte"},
        _ln(eps, "ln_f"),
    ]
    return _lm(c, seq, "transformer", layers, {"block": {"layers": body}}, "transformer.wte", False, bias=True)


def opt(c: Config, seq: int) -> dict:
    hidden, heads = c.int("hidden_size"), c.int("num_attention_heads")
    d = _head_dim(hidden, heads, c)
    if c.int("word_embed_proj_dim", hidden) != hidden:
        raise SpecError(f"{c.source}: word_embed_proj_dim other than hidden_size (OPT-350m) is not supported")
    if not c.flag("do_layer_norm_before", True):
        raise SpecError(f"{c.source}: 'do_layer_norm_before: false' (OPT-350m) is not supported")
    bias = c.flag("enable_bias", True)
    affine = c.flag("layer_norm_elementwise_affine", True)
    act = c.activation("activation_function", "relu", GELU)
    norm = {} if affine else {"elementwise_affine": False}
    body = [
        _ln(1e-5, "self_attn_layer_norm", **norm),
        {
            "name": "self_attn",
            "layers": [
                named_entry("linear", "q_proj", out=hidden, bias=bias),
                named_entry("linear", "k_proj", out=hidden, bias=bias, **{"from": "input"}),
                named_entry("linear", "v_proj", out=hidden, bias=bias, **{"from": "input"}),
                _op(heads, heads, d, ["q_proj", "k_proj", "v_proj"]),
                named_entry("linear", "out_proj", out=hidden, bias=bias),
            ],
        },
        {"add": {"from": "input", "name": "residual"}},
        _ln(1e-5, "final_layer_norm", **norm),
        named_entry("linear", "fc1", out=c.int("ffn_dim"), bias=bias),
        activation_entry(act, "activation_fn"),
        named_entry("linear", "fc2", out=hidden, bias=bias),
        {"add": {"from": "residual"}},
    ]
    positions = c.int("max_position_embeddings")
    decoder = [
        named_entry("embedding", "embed_tokens", num=c.int("vocab_size"), dim=hidden, **{"from": "input_ids"}),
        # learned positions, offset by 2 (OPTLearnedPositionalEmbedding): max_position_embeddings + 2 rows
        named_entry("embedding", "embed_positions", num=positions + 2, dim=hidden, **{"from": "position_ids"}),
        {"add": {"from": ["embed_tokens", "embed_positions"]}},
        {"repeat": c.int("num_hidden_layers"), "name": "layers", "decoder_layer": {}},
        _ln(1e-5, "final_layer_norm", **norm),
    ]
    spec = _lm(
        c,
        seq,
        "model",
        [{"name": "decoder", "layers": decoder}],
        {"decoder_layer": {"layers": body}},
        "model.decoder.embed_tokens",
        True,
    )
    spec["inputs"]["position_ids"] = [seq]
    return spec


def bloom(c: Config, seq: int) -> dict:
    hidden, heads = c.int("hidden_size"), c.int("n_head")
    d = _head_dim(hidden, heads, c)
    eps = c.number("layer_norm_epsilon", 1e-5)
    if c.flag("apply_residual_connection_post_layernorm", False):
        raise SpecError(f"{c.source}: 'apply_residual_connection_post_layernorm: true' is not supported")
    body = [
        _ln(eps, "input_layernorm"),
        {
            "name": "self_attention",
            "layers": [
                named_entry("linear", "query_key_value", out=3 * hidden),
                _op(heads, heads, d, "query_key_value", position="alibi"),
                named_entry("linear", "dense", out=hidden),
            ],
        },
        {"add": {"from": "input", "name": "residual"}},
        _ln(eps, "post_attention_layernorm"),
        {
            "name": "mlp",
            "layers": [
                named_entry("linear", "dense_h_to_4h", out=4 * hidden),
                {"gelu": {"approximate": "tanh", "name": "gelu_impl"}},
                named_entry("linear", "dense_4h_to_h", out=hidden),
            ],
        },
        {"add": {"from": "residual"}},
    ]
    layers = [
        named_entry("embedding", "word_embeddings", num=c.int("vocab_size"), dim=hidden, **{"from": "input_ids"}),
        _ln(eps, "word_embeddings_layernorm"),
        {"repeat": c.int("n_layer"), "name": "h", "block": {}},
        _ln(eps, "ln_f"),
    ]
    return _lm(c, seq, "transformer", layers, {"block": {"layers": body}}, "transformer.word_embeddings", True)


def falcon(c: Config, seq: int) -> dict:
    hidden, heads = c.int("hidden_size"), c.int("num_attention_heads")
    d = _head_dim(hidden, heads, c)
    eps = c.number("layer_norm_epsilon", 1e-5)
    if c.flag("new_decoder_architecture", False) or c.flag("alibi", False) or not c.flag("parallel_attn", True):
        raise SpecError(
            f"{c.source}: falcon with new_decoder_architecture, alibi or parallel_attn false is not supported"
        )
    kv = 1 if c.flag("multi_query", True) else heads
    packing = {} if kv == 1 else {"packing": "heads"}
    bias = c.flag("bias", False)
    ff = c.int("ffn_hidden_size", 4 * hidden) if c.raw.get("ffn_hidden_size") is not None else 4 * hidden
    body = [
        _ln(eps, "input_layernorm"),
        {
            "name": "self_attention",
            "layers": [
                named_entry("linear", "query_key_value", out=(heads + 2 * kv) * d, bias=bias),
                # multi-query: all q, k, v; else per head its q, k and v
                _op(heads, kv, d, "query_key_value", position="rope", **packing, **rope_fields(c)),
                named_entry("linear", "dense", out=hidden, bias=bias),
            ],
        },
        {
            "name": "mlp",
            "from": "input_layernorm",
            "layers": [
                named_entry("linear", "dense_h_to_4h", out=ff, bias=bias),
                {"gelu": {"name": "act"}},
                named_entry("linear", "dense_4h_to_h", out=hidden, bias=bias),
            ],
        },
        {"add": {"from": ["input", "self_attention", "mlp"]}},  # attention and MLP in parallel
    ]
    layers = [
        named_entry("embedding", "word_embeddings", num=c.int("vocab_size"), dim=hidden, **{"from": "input_ids"}),
        _rotary(d, "inv_freq", "original_inv_freq"),
        {"repeat": c.int("num_hidden_layers"), "name": "h", "block": {}, "from": "word_embeddings"},
        _ln(eps, "ln_f"),
    ]
    return _lm(c, seq, "transformer", layers, {"block": {"layers": body}}, "transformer.word_embeddings", True)
