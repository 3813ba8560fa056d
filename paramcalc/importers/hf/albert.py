"""ALBERT: factorised embeddings (embedding_size wide, then a linear to hidden_size) and shared layers.

transformers' AlbertTransformer holds num_hidden_groups groups of inner_group_num layers and applies group
int(i / (num_hidden_layers / num_hidden_groups)) at step i; every published ALBERT has one group, the only
case written here. Its first application is written with its parameters, named as the checkpoint's
(encoder.albert_layer_groups.0.albert_layers.J); each later
application (encoder.reuse.K) computes the same layer with its weights tied to the first (counted once)
and is written without the biases and norm scales, which are the same tensors, counted with the first."""

from __future__ import annotations

from ...errors import SpecError
from . import heads
from .common import GELU, Config, activation_entry, bert_embeddings, named_entry

GROUP = "encoder.albert_layer_groups"


def _layer(c: Config, owner: str | None) -> dict:
    """One AlbertLayer; `owner` is the full name of the layer whose tensors a later application uses."""
    d, eps = c.int("hidden_size"), c.number("layer_norm_eps", 1e-12)
    heads_ = c.int("num_attention_heads")
    if d % heads_:
        raise SpecError(f"{c.source}: num_attention_heads ({heads_}) must divide hidden_size ({d})")
    act = c.activation("hidden_act", "gelu_new", GELU)
    dropout = c.number("hidden_dropout_prob", 0.0)

    def linear(name, out, path, **more):
        if owner is None:
            return named_entry("linear", name, out=out, **more)
        return named_entry("linear", name, out=out, bias=False, tie=f"{owner}.{path}", **more)

    def norm(name):
        return {"layernorm": {"eps": eps, "name": name, **({} if owner is None else {"elementwise_affine": False})}}

    return {
        "layers": [
            {"identity": {"name": "hidden_states"}},
            {
                "name": "attention",
                "layers": [
                    linear("query", d, "attention.query"),
                    linear("key", d, "attention.key", **{"from": "input"}),
                    linear("value", d, "attention.value", **{"from": "input"}),
                    {"attention": {"heads": heads_, "from": ["query", "key", "value"], "name": "attention"}},
                    linear("dense", d, "attention.dense"),
                    {"dropout": {"p": dropout, "name": "output_dropout"}},
                    {"add": {"from": "hidden_states"}},
                    norm("LayerNorm"),
                ],
            },
            linear("ffn", c.int("intermediate_size"), "ffn"),
            activation_entry(act, "activation"),
            linear("ffn_output", d, "ffn_output"),
            {"add": {"from": "attention"}},
            norm("full_layer_layer_norm"),
        ]
    }


def albert(c: Config, family: str, seq: int) -> dict:
    d, e = c.int("hidden_size"), c.int("embedding_size", 128)
    layers, inner = c.int("num_hidden_layers"), c.int("inner_group_num", 1)
    if c.int("num_hidden_groups", 1) != 1:  # every published ALBERT has one group
        raise SpecError(
            f"{c.source}: 'num_hidden_groups' other than 1 is not supported (found {c.raw['num_hidden_groups']})"
        )
    prefix = f"{heads.PREFIX[family]}." if heads.wrapped(c, family) else ""
    blocks = {"albert_layer": _layer(c, None)}
    # the group's first application, with its tensors, named as the checkpoint's
    encoder: list = [
        named_entry("linear", "embedding_hidden_mapping_in", out=d),
        {
            "name": "albert_layer_groups",
            "layers": [
                {
                    "name": "0",
                    "layers": [{"name": "albert_layers", "layers": [_inner(j, "albert_layer") for j in range(inner)]}],
                }
            ],
        },
    ]
    if layers > 1:  # its later applications, tied to it
        for j in range(inner):
            blocks[f"albert_layer_{j}"] = _layer(c, f"{prefix}{GROUP}.0.albert_layers.{j}")
        blocks["albert_group"] = {
            "layers": [{"name": "albert_layers", "layers": [_inner(j, f"albert_layer_{j}") for j in range(inner)]}]
        }
        encoder.append({"repeat": layers - 1, "name": "reuse", "albert_group": {}})
    eps = c.number("layer_norm_eps", 1e-12)
    return {
        "inputs": {"input_ids": [seq], "position_ids": [seq], "token_type_ids": [seq]},
        "blocks": blocks,
        "layers": [
            # ALBERT sums the token type embeddings before the position embeddings
            bert_embeddings(c, e, eps, ("word_embeddings", "token_type_embeddings", "position_embeddings"), 0.0),
            {"name": "encoder", "layers": encoder},
            {"select": {"dim": 1, "index": 0}},
            named_entry("linear", "pooler", out=d),
            {"tanh": {"name": "pooler_activation"}},
        ],
        "pooler": 3,  # the last three entries: a head without the pooler drops them
        "note": "ALBERT's shared layers: the group's first application holds its tensors; its later "
        "applications (encoder.reuse) tie their weights to them and are written without the same biases and "
        "norm scales, so that every tensor is counted once.",
    }


def _inner(j: int, block: str) -> dict:
    return {"name": str(j), block: {}}
