"""A Hugging Face `config.json` -> a paramcalc spec (YAML text). Pure Python, no network, no transformers.

Layer names are the checkpoint's state_dict names (`model.layers.0.self_attn.q_proj`), so a spec row
can be found in the checkpoint. Attention is written as its projections (q, k, v, o as linear layers):
that is exact for grouped-query attention (k and v narrower than q) and per-projection biases; the
attention products themselves (QKᵀ and the weighted sum of V) have no parameters and are not in the
MACs of these specs. Rotary and relative position encodings have no parameters, except T5's relative
attention bias table, which is a `parameter` in the first block of each stack.

The config is untrusted: only validated numbers, booleans and a known model_type reach the spec,
which is written by yaml.safe_dump.
"""

from __future__ import annotations

from ..errors import SpecError, describe, did_you_mean
from .hf_config import check_config, read_config

FAMILIES = ("llama", "mistral", "qwen2", "gemma", "gpt2", "bert", "t5", "vit")


class _Config:
    """Typed access to a config's values, each failure naming the file and the key."""

    def __init__(self, raw: dict, source: str):
        self.raw, self.source = raw, source

    def _fail(self, key, wanted, value):
        return SpecError(f"{self.source}: '{key}' expects {wanted}, found {describe(value)}")

    def int(self, key: str, default=None, *, minimum: int = 1) -> int:
        value = self.raw.get(key, default)
        if value is None:
            if default is None:
                raise SpecError(f"{self.source}: this {self.raw.get('model_type')} config has no '{key}'")
            value = default
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self._fail(key, "a positive integer" if minimum == 1 else f"an integer >= {minimum}", value)
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.raw.get(key, default)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self._fail(key, "true or false", value)
        return value

    def number(self, key: str, default: float) -> float:
        value = self.raw.get(key, default)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise self._fail(key, "a non-negative number", value)
        return value

    def activation(self, key: str, default: str, allowed: dict[str, str | dict]) -> str | dict:
        value = self.raw.get(key, default)
        if value is None:
            value = default
        if value not in allowed:
            raise self._fail(key, "one of " + ", ".join(sorted(allowed)), value)
        return allowed[value]


# activation names in HF configs -> a paramcalc kind (with its fields)
GELU: dict[str, str | dict] = {
    "gelu": "gelu",
    "gelu_new": {"gelu": {"approximate": "tanh"}},
    "gelu_pytorch_tanh": {"gelu": {"approximate": "tanh"}},
    "gelu_fast": {"gelu": {"approximate": "tanh"}},
    "relu": "relu",
    "silu": "silu",
    "swish": "silu",
    "tanh": "tanh",
}


def _named(kind, name, **fields):
    return {kind: {**fields, "name": name}}


def _act(kind, name):
    """An activation entry; `kind` is a kind name or {kind: fields}."""
    if isinstance(kind, dict):
        ((k, fields),) = kind.items()
        return {k: {**fields, "name": name}}
    return {kind: {"name": name}}


# ---------------------------------------------------------------- decoder-only: llama, mistral, qwen2, gemma


def _llama_like(c: _Config, family: str, seq: int | None) -> dict:
    hidden = c.int("hidden_size")
    heads = c.int("num_attention_heads")
    kv = c.int("num_key_value_heads", heads)
    if heads % kv:
        raise SpecError(f"{c.source}: num_key_value_heads ({kv}) must divide num_attention_heads ({heads})")
    head_dim = c.int("head_dim", hidden // heads if hidden % heads == 0 else None)
    qkv_bias = family == "qwen2" or c.flag("attention_bias", False)
    out_bias = c.flag("attention_bias", False)
    mlp_bias = c.flag("mlp_bias", False)
    eps = c.number("rms_norm_eps", 1e-6)
    act_key = "hidden_activation" if family == "gemma" and "hidden_activation" in c.raw else "hidden_act"
    act = c.activation(act_key, "gelu_pytorch_tanh" if family == "gemma" else "silu", GELU)
    vocab = c.int("vocab_size")
    tie = c.flag("tie_word_embeddings", family == "gemma")  # transformers' default per family
    seq = seq or c.int("max_position_embeddings", 2048)
    layer = {
        "layers": [
            {"rmsnorm": {"eps": eps, "name": "input_layernorm"}},
            {
                "name": "self_attn",
                "layers": [
                    _named("linear", "q_proj", out=heads * head_dim, bias=qkv_bias),
                    _named("linear", "k_proj", out=kv * head_dim, bias=qkv_bias, **{"from": "input"}),
                    _named("linear", "v_proj", out=kv * head_dim, bias=qkv_bias, **{"from": "input"}),
                    # o_proj reads the attention output, shaped like q_proj's (seq, heads · head_dim)
                    _named("linear", "o_proj", out=hidden, bias=out_bias, **{"from": "q_proj"}),
                ],
            },
            {"add": {"from": "input", "name": "residual"}},
            {"rmsnorm": {"eps": eps, "name": "post_attention_layernorm"}},
            {
                "name": "mlp",
                "layers": [
                    _named("linear", "gate_proj", out=c.int("intermediate_size"), bias=mlp_bias),
                    _act(act, "act_fn"),
                    _named("linear", "up_proj", out=c.int("intermediate_size"), bias=mlp_bias, **{"from": "input"}),
                    {"mul": {"from": ["act_fn", "up_proj"]}},
                    _named("linear", "down_proj", out=hidden, bias=mlp_bias),
                ],
            },
            {"add": {"from": "residual"}},
        ],
    }
    head = _named("linear", "lm_head", out=vocab, bias=False)
    if tie:
        head["linear"]["tie"] = "model.embed_tokens"
    return {
        "inputs": {"input_ids": [seq]},
        "blocks": {"decoder_layer": layer},
        "layers": [
            {
                "name": "model",
                "layers": [
                    _named("embedding", "embed_tokens", num=vocab, dim=hidden),
                    {"repeat": c.int("num_hidden_layers"), "name": "layers", "decoder_layer": {}},
                    {"rmsnorm": {"eps": eps, "name": "norm"}},
                ],
            },
            head,
        ],
    }


# ---------------------------------------------------------------- gpt2


def _gpt2(c: _Config, seq: int | None) -> dict:
    d = c.int("n_embd")
    positions = c.int("n_positions")
    seq = seq or positions
    eps = c.number("layer_norm_epsilon", 1e-5)
    inner = c.int("n_inner", 4 * d) if c.raw.get("n_inner") is not None else 4 * d
    if d % c.int("n_head"):
        raise SpecError(f"{c.source}: n_head ({c.int('n_head')}) must divide n_embd ({d})")
    act = c.activation("activation_function", "gelu_new", GELU)
    block = {
        "layers": [
            {"layernorm": {"eps": eps, "name": "ln_1"}},
            {
                "name": "attn",
                "layers": [
                    _named("linear", "c_attn", out=3 * d),  # q, k and v in one projection
                    # c_proj reads the attention output, shaped like one third of c_attn's
                    {"split": {"size": d, "index": 2, "dim": -1, "name": "attention"}},
                    _named("linear", "c_proj", out=d),
                ],
            },
            {"add": {"from": "input", "name": "residual"}},
            {"layernorm": {"eps": eps, "name": "ln_2"}},
            {
                "name": "mlp",
                "layers": [_named("linear", "c_fc", out=inner), _act(act, "act"), _named("linear", "c_proj", out=d)],
            },
            {"add": {"from": "residual"}},
        ]
    }
    head = _named("linear", "lm_head", out=c.int("vocab_size"), bias=False)
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
                    _named("embedding", "wte", num=c.int("vocab_size"), dim=d, **{"from": "input_ids"}),
                    _named("embedding", "wpe", num=positions, dim=d, **{"from": "position_ids"}),
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


def _qkv(d: int, bias: bool, names=("query", "key", "value")) -> list:
    q, k, v = names  # query last, so that the group's output (what reads on) is shaped as the attention's
    return [
        _named("linear", k, out=d, bias=bias),
        _named("linear", v, out=d, bias=bias, **{"from": "input"}),
        _named("linear", q, out=d, bias=bias, **{"from": "input"}),
    ]


def _bert(c: _Config, seq: int | None) -> dict:
    d, eps = c.int("hidden_size"), c.number("layer_norm_eps", 1e-12)
    seq = seq or c.int("max_position_embeddings")
    act = c.activation("hidden_act", "gelu", GELU)
    layer = {
        "layers": [
            {"identity": {"name": "hidden_states"}},  # the layer's input, named for the residual below
            {
                "name": "attention",
                "layers": [
                    {"name": "self", "layers": _qkv(d, True)},
                    {
                        "name": "output",
                        "layers": [
                            _named("linear", "dense", out=d),  # reads the attention output (shaped as the query)
                            {"dropout": {"p": c.number("hidden_dropout_prob", 0.1), "name": "dropout"}},
                            {"add": {"from": "hidden_states"}},
                            {"layernorm": {"eps": eps, "name": "LayerNorm"}},
                        ],
                    },
                ],
            },
            {
                "name": "intermediate",
                "layers": [_named("linear", "dense", out=c.int("intermediate_size")), _act(act, "intermediate_act_fn")],
            },
            {
                "name": "output",
                "layers": [
                    _named("linear", "dense", out=d),
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
            {
                "name": "embeddings",
                "from": "input_ids",
                "layers": [
                    _named("embedding", "word_embeddings", num=c.int("vocab_size"), dim=d, **{"from": "input_ids"}),
                    _named(
                        "embedding",
                        "position_embeddings",
                        num=c.int("max_position_embeddings"),
                        dim=d,
                        **{"from": "position_ids"},
                    ),
                    _named(
                        "embedding",
                        "token_type_embeddings",
                        num=c.int("type_vocab_size", 2),
                        dim=d,
                        **{"from": "token_type_ids"},
                    ),
                    {"add": {"from": ["word_embeddings", "position_embeddings", "token_type_embeddings"]}},
                    {"layernorm": {"eps": eps, "name": "LayerNorm"}},
                    {"dropout": {"p": c.number("hidden_dropout_prob", 0.1), "name": "dropout"}},
                ],
            },
            {"name": "encoder", "layers": [{"repeat": c.int("num_hidden_layers"), "name": "layer", "bert_layer": {}}]},
            {
                "name": "pooler",
                "layers": [
                    {"select": {"dim": 1, "index": 0}},
                    _named("linear", "dense", out=d),
                    {"tanh": {"name": "activation"}},
                ],
            },
        ],
    }


def _vit(c: _Config, seq: int | None) -> dict:
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
                    {"name": "attention", "layers": _qkv(d, bias)},
                    {"name": "output", "layers": [_named("linear", "dense", out=d)]},
                ],
            },
            {"add": {"from": "input", "name": "residual"}},
            {"layernorm": {"eps": eps, "name": "layernorm_after"}},
            {
                "name": "intermediate",
                "layers": [_named("linear", "dense", out=c.int("intermediate_size")), _act(act, "intermediate_act_fn")],
            },
            {"name": "output", "layers": [_named("linear", "dense", out=d)]},
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
                                "layers": [_named("conv2d", "projection", out=d, kernel=patch, stride=patch)],
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
            _named("linear", "classifier", out=classes),
        ],
    }


# ---------------------------------------------------------------- t5 (encoder-decoder)


def _t5(c: _Config, seq: int | None) -> dict:
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
    seq = seq or 512

    def attention(name, cross: bool):
        kv_from = {"from": "encoder.dropout"} if cross else {"from": "input"}
        layers = [
            _named("linear", "q", out=inner, bias=False),
            _named("linear", "k", out=inner, bias=False, **kv_from),
            _named("linear", "v", out=inner, bias=False, **kv_from),
            _named("linear", "o", out=d, bias=False, **{"from": "q"}),
        ]
        if not cross:  # the relative position table lives in the first block of each stack
            layers.append(
                {"parameter": {"shape": [buckets, heads], "name": "relative_attention_bias"}, "when": "$relative"}
            )
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
            _named("linear", "wi_0", out=ff, bias=False),
            _act(act, "act"),
            _named("linear", "wi_1", out=ff, bias=False, **{"from": "input"}),
            {"mul": {"from": ["act", "wi_1"]}},
        ]
        if gated
        else [_named("linear", "wi", out=ff, bias=False), _act(act, "act")]
    )
    feed_forward = {"name": "DenseReluDense", "layers": [*wi, _named("linear", "wo", out=d, bias=False)]}
    encoder_block = {
        "args": {"relative": False},
        "layers": [
            {"name": "layer", "layers": [sublayer(0, attention("SelfAttention", False)), sublayer(1, feed_forward)]}
        ],
    }
    decoder_block = {
        "args": {"relative": False},
        "layers": [
            {
                "name": "layer",
                "layers": [
                    sublayer(0, attention("SelfAttention", False)),
                    sublayer(1, attention("EncDecAttention", True)),
                    sublayer(2, feed_forward),
                ],
            }
        ],
    }
    vocab = c.int("vocab_size")
    head = _named("linear", "lm_head", out=vocab, bias=False)
    if c.flag("tie_word_embeddings", True):
        head["linear"]["tie"] = "shared"
    return {
        "inputs": {"input_ids": [seq], "decoder_input_ids": [seq]},
        "blocks": {"encoder_block": encoder_block, "decoder_block": decoder_block},
        "layers": [
            _named("embedding", "shared", num=vocab, dim=d, **{"from": "input_ids"}),
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
                    _named(
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


# ---------------------------------------------------------------- entry point


def spec_from_config(raw: dict, source: str, seq: int | None = None) -> dict:
    """The spec document (a dict, ready for YAML) of a Hugging Face config."""
    family = raw.get("model_type")
    if family not in FAMILIES:
        found = repr(family) if isinstance(family, str) else describe(family)
        raise SpecError(
            f"{source}: model_type {found} is not supported; paramcalc imports " + ", ".join(FAMILIES),
            hint=did_you_mean(family, FAMILIES) if isinstance(family, str) else None,
        )
    c = _Config(raw, source)
    builders = {"gpt2": _gpt2, "bert": _bert, "vit": _vit, "t5": _t5}
    body = builders[family](c, seq) if family in builders else _llama_like(c, family, seq)
    return {"name": family, **body}


def import_hf(path: str, seq: int | None = None) -> str:
    """YAML text of the spec for a Hugging Face config.json."""
    import yaml

    raw, source = read_config(path)
    check_config(raw, source, seq)
    doc = spec_from_config(raw, source, seq)
    header = (
        f"# Imported by paramcalc from a Hugging Face config (model_type {doc['name']}). Names are the\n"
        "# checkpoint's state_dict names; attention is its q/k/v/o projections, so MACs leave out the\n"
        "# attention products (QKᵀ and the weighted sum of V), which have no parameters.\n"
    )
    return header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, default_flow_style=None, width=110)
