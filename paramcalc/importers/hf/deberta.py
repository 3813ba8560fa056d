"""DeBERTa-v2 (and v3): BERT-like layers with disentangled attention. Each layer scores content to content
(QKᵀ), content to position (c2p: Q against the relative position embeddings projected by the key
projection) and position to content (p2c: K against them projected by the query projection), with
share_att_key the layer's own key_proj and query_proj applied again to the (normalised) table of
2 · position_buckets relative position embeddings.

The attention is written as the products DisentangledSelfAttention computes (matmul rows), as transformers
does them in eager bmm, so the MACs are FlopCounterMode's: QKᵀ, c2p, p2c, attention · V and the per-layer
projections of the position table. Two things are written as what they cost rather than what they do:
the gather that picks each pair's relative position from the (query × 2·span) scores is a split to the
first `seq` columns (the same shape and no MACs; so `--seq` may not exceed 2·span), and the projections of
the position table, which transformers computes once per step, count once per sample (exact at batch 1)."""

from __future__ import annotations

from ...errors import SpecError, describe
from . import heads
from .common import GELU, Config, activation_entry, named_entry

KINDS = ("c2p", "p2c")


def _pos_att_type(c: Config) -> tuple[str, ...]:
    value = c.raw.get("pos_att_type")
    if value is None:
        return ()
    items = [x.strip().lower() for x in value.split("|")] if isinstance(value, str) else value
    if not isinstance(items, list) or any(x not in KINDS for x in items):
        raise SpecError(f"{c.source}: 'pos_att_type' expects c2p, p2c or both ('p2c|c2p'), found {describe(value)}")
    return tuple(k for k in KINDS if k in items)


def _heads(name: str, source: str, heads: int, head: int, last: tuple[int, ...]) -> list:
    """(seq, heads · head) -> (heads, seq, head), or with `last` the given permutation of (seq, heads, head)."""
    return [
        {"unflatten": {"dim": 2, "sizes": [heads, head], "from": source}},
        {"permute": {"dims": [0, *last], "name": name}},
    ]


def _attention(c: Config, span: int, rel: str, kinds: tuple[str, ...], share: bool) -> dict:
    """DisentangledSelfAttention (`self`): q/k/v projections, the products, softmax, attention · V."""
    d, n = c.int("hidden_size"), c.int("num_attention_heads")
    if c.raw.get("attention_head_size") is None and d % n:
        raise SpecError(f"{c.source}: num_attention_heads ({n}) must divide hidden_size ({d})")
    head = c.int("attention_head_size", d // n)
    width = n * head
    layers = [
        named_entry("linear", "query_proj", out=width),
        named_entry("linear", "key_proj", out=width, **{"from": "input"}),
        named_entry("linear", "value_proj", out=width, **{"from": "input"}),
        *_heads("q", "query_proj", n, head, (2, 1, 3)),
        *_heads("kT", "key_proj", n, head, (2, 3, 1)),
        {"matmul": {"from": ["q", "kT"], "name": "scores"}},  # QKᵀ
    ]
    scores = ["scores"]
    if "p2c" in kinds:
        layers += _heads("k", "key_proj", n, head, (2, 1, 3))
    for kind in kinds:
        # c2p: the position keys (key projection of the table) against q; p2c: the position queries against k
        proj, own, reader = (
            ("key_proj", "pos_key_proj", "q") if kind == "c2p" else ("query_proj", "pos_query_proj", "k")
        )
        if share:
            position = named_entry("linear", f"{kind}_{proj}", out=width, bias=False, tie=proj)
        else:
            position = named_entry("linear", own, out=width)
        position["linear"]["from"] = rel
        layers += [
            position,
            *_heads(f"{kind}_position", position["linear"]["name"], n, head, (2, 3, 1)),
            {"matmul": {"from": [reader, f"{kind}_position"], "name": f"{kind}_att"}},
            # torch.gather of each pair's relative position: (heads, seq, 2·span) -> (heads, seq, seq)
            {"split": {"size": "${shape(input)[0]}", "dim": 3, "index": 0, "name": f"{kind}_gather"}},
        ]
        if kind == "p2c":
            layers.append({"transpose": {"dim0": 2, "dim1": 3, "name": "p2c_gather_t"}})
            scores.append("p2c_gather_t")
        else:
            scores.append("c2p_gather")
    layers += [
        *([{"add": {"from": scores}}] if len(scores) > 1 else []),
        {"softmax": {"dim": -1}},
        {"dropout": {"p": c.number("attention_probs_dropout_prob", 0.1), "name": "dropout"}},
        *_heads("v", "value_proj", n, head, (2, 1, 3)),
        {"matmul": {"from": ["dropout", "v"], "name": "context"}},
        {"transpose": {"dim0": 1, "dim1": 2}},
        {"flatten": {"start_dim": 2}},
    ]
    return {"name": "self", "layers": layers}


def _layer(c: Config, attention: dict) -> dict:
    d, eps = c.int("hidden_size"), c.number("layer_norm_eps", 1e-7)
    dropout = {"dropout": {"p": c.number("hidden_dropout_prob", 0.1), "name": "dropout"}}
    return {
        "layers": [
            {"identity": {"name": "hidden_states"}},
            {
                "name": "attention",
                "layers": [
                    attention,
                    {
                        "name": "output",
                        "layers": [
                            named_entry("linear", "dense", out=d),
                            dropout,
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
                    activation_entry(c.activation("hidden_act", "gelu", GELU), "intermediate_act_fn"),
                ],
            },
            {
                "name": "output",
                "layers": [
                    named_entry("linear", "dense", out=d),
                    dropout,
                    {"add": {"from": "attention"}},
                    {"layernorm": {"eps": eps, "name": "LayerNorm"}},
                ],
            },
        ]
    }


def deberta(c: Config, family: str, seq: int) -> dict:
    if c.int("conv_kernel_size", 0, minimum=0):
        raise SpecError(
            f"{c.source}: 'conv_kernel_size' (DeBERTa-v2's convolution after the first layer) is not supported"
        )
    d, e = c.int("hidden_size"), c.int("embedding_size", c.int("hidden_size"))
    eps = c.number("layer_norm_eps", 1e-7)
    positions = c.int("max_position_embeddings", 512)
    prefix = f"{heads.PREFIX[family]}." if heads.wrapped(c, family) else ""
    relative = c.flag("relative_attention", False)
    kinds = _pos_att_type(c) if relative else ()
    encoder: list = []
    rel = f"{prefix}encoder.rel_embeddings.weight"
    if relative:
        buckets = c.raw.get("position_buckets", -1)
        most = c.raw.get("max_relative_positions", -1)
        for key, value in (("position_buckets", buckets), ("max_relative_positions", most)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise SpecError(f"{c.source}: '{key}' expects an integer (-1: none), found {describe(value)}")
        span = buckets if buckets > 0 else most if most > 0 else positions
        if seq > 2 * span:
            raise SpecError(
                f"{c.source}: a sequence of {seq:,} is longer than the relative position table (2 × {span:,}); "
                "paramcalc writes DeBERTa's position gather for sequences of at most that length",
                hint="--seq sets the sequence length",
            )
        encoder += [
            {"name": "rel_embeddings", "layers": [{"parameter": {"shape": [2 * span, d], "name": "weight"}}]},
        ]
        norm = c.raw.get("norm_rel_ebd", "none")
        if isinstance(norm, str) and "layer_norm" in [x.strip() for x in norm.lower().split("|")]:
            encoder.append({"layernorm": {"eps": eps, "name": "LayerNorm", "from": rel}})
            rel = f"{prefix}encoder.LayerNorm"
    else:
        span = 0
        if "layer_norm" in str(c.raw.get("norm_rel_ebd", "none")).lower():
            raise SpecError(f"{c.source}: 'norm_rel_ebd' without 'relative_attention' (a norm that is never used)")
    attention = _attention(c, span, rel, kinds, c.flag("share_att_key", False))
    layer = _layer(c, attention)
    encoder.append({"repeat": c.int("num_hidden_layers"), "name": "layer", "from": "embeddings", "deberta_layer": {}})
    embeddings = [
        {"name": "ids", "layers": [{"buffer": {"shape": [1, positions], "name": "position_ids"}}]},
        named_entry("embedding", "word_embeddings", num=c.int("vocab_size"), dim=e, **{"from": "input_ids"}),
    ]
    added = ["word_embeddings"]
    inputs = {"input_ids": [seq]}
    if c.flag("position_biased_input", True):
        embeddings.append(
            named_entry("embedding", "position_embeddings", num=positions, dim=e, **{"from": "position_ids"})
        )
        added.append("position_embeddings")
        inputs["position_ids"] = [seq]
    if c.int("type_vocab_size", 0, minimum=0) > 0:
        embeddings.append(
            named_entry(
                "embedding", "token_type_embeddings", num=c.int("type_vocab_size"), dim=e, **{"from": "token_type_ids"}
            )
        )
        added.append("token_type_embeddings")
        inputs["token_type_ids"] = [seq]
    if len(added) > 1:
        embeddings.append({"add": {"from": added}})
    if e != d:
        embeddings.append(named_entry("linear", "embed_proj", out=d, bias=False))
    embeddings += [
        {"layernorm": {"eps": eps, "name": "LayerNorm"}},
        {"dropout": {"p": c.number("hidden_dropout_prob", 0.1), "name": "dropout"}},
    ]
    return {
        "inputs": inputs,
        "blocks": {"deberta_layer": layer},
        "layers": [
            {"name": "embeddings", "from": "input_ids", "layers": embeddings},
            {"name": "encoder", "layers": encoder},
        ],
        "note": "DeBERTa's disentangled attention is written as its products (QKᵀ, c2p, p2c, attention · V); "
        "its position gather as a split of the same shape (--seq at most 2 · position_buckets), and the "
        "projections of the position table count once per sample (exact at batch 1).",
    }
