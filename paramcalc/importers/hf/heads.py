"""The task heads of the encoders (BERT, RoBERTa, XLM-R, ELECTRA, DistilBERT, ALBERT, DeBERTa-v2): the one the
config's `architectures` names, on its base model, as transformers builds it. The base model becomes a group
named as the head class's attribute (`bert`, `roberta`, ...), so that every name is the checkpoint's; a
masked-LM decoder ties its weight to the word embeddings (counted once) and keeps its own bias."""

from __future__ import annotations

import re
from collections.abc import Callable

from .common import GELU, Config, activation_entry, named_entry

# model_type -> the base model's attribute in its task-head classes
PREFIX = {
    "bert": "bert",
    "roberta": "roberta",
    "xlm-roberta": "roberta",
    "electra": "electra",
    "distilbert": "distilbert",
    "albert": "albert",
    "deberta-v2": "deberta",
}
WIDTH = {"distilbert": "dim"}  # the hidden size's key, where it is not hidden_size


def _labels(c: Config) -> int:
    labels = c.raw.get("id2label")
    return len(labels) if isinstance(labels, dict) and labels else c.int("num_labels", 2)


def _mlm(c: Config, prefix: str, family: str) -> list:
    """BERT's (and DeBERTa-v2's legacy) masked-LM head: cls.predictions.transform, then the tied decoder."""
    d = c.int("hidden_size")
    e = c.int("embedding_size", d) if family == "deberta-v2" else d
    return [
        {
            "name": "cls",
            "layers": [
                {
                    "name": "predictions",
                    "layers": [
                        {
                            "name": "transform",
                            "layers": [
                                named_entry("linear", "dense", out=e),
                                activation_entry(c.activation("hidden_act", "gelu", GELU), "transform_act_fn"),
                                {"layernorm": {"eps": c.number("layer_norm_eps", 1e-12), "name": "LayerNorm"}},
                            ],
                        },
                        _decoder(c, "decoder", prefix),
                    ],
                }
            ],
        }
    ]


def _decoder(c: Config, name: str, prefix: str) -> dict:
    """The vocabulary projection: the word embeddings' weight (tied, counted there) and a bias of its own."""
    return named_entry("linear", name, out=c.int("vocab_size"), tie=f"{prefix}.embeddings.word_embeddings")


def _roberta_mlm(c: Config, prefix: str, family: str) -> list:
    return [
        {
            "name": "lm_head",
            "layers": [
                named_entry("linear", "dense", out=c.int("hidden_size")),
                {"gelu": {}},
                {"layernorm": {"eps": c.number("layer_norm_eps", 1e-12), "name": "layer_norm"}},
                _decoder(c, "decoder", prefix),
            ],
        }
    ]


def _bert_classifier(c: Config, prefix: str, family: str) -> list:
    """BertForSequenceClassification: the pooler's output, dropout, classifier."""
    return [
        {"dropout": {"p": c.number("hidden_dropout_prob", 0.1), "name": "dropout"}},
        named_entry("linear", "classifier", out=_labels(c)),
    ]


def _distilbert_mlm(c: Config, prefix: str, family: str) -> list:
    return [
        named_entry("linear", "vocab_transform", out=c.int("dim")),
        activation_entry(c.activation("activation", "gelu", GELU), "activation"),
        {"layernorm": {"eps": 1e-12, "name": "vocab_layer_norm"}},
        _decoder(c, "vocab_projector", prefix),
    ]


def _electra_discriminator(c: Config, prefix: str, family: str) -> list:
    """ElectraForPreTraining: one logit per token (replaced or not), squeezed to (seq)."""
    return [
        {
            "name": "discriminator_predictions",
            "layers": [
                named_entry("linear", "dense", out=c.int("hidden_size")),
                activation_entry(c.activation("hidden_act", "gelu", GELU), "activation"),
                named_entry("linear", "dense_prediction", out=1),
                {"squeeze": {"dim": -1}},
            ],
        }
    ]


def _electra_generator(c: Config, prefix: str, family: str) -> list:
    return [
        {
            "name": "generator_predictions",
            "layers": [
                named_entry("linear", "dense", out=c.int("embedding_size", c.int("hidden_size"))),
                {"gelu": {"name": "activation"}},
                {"layernorm": {"eps": c.number("layer_norm_eps", 1e-12), "name": "LayerNorm"}},
            ],
        },
        _decoder(c, "generator_lm_head", prefix),
    ]


def _albert_mlm(c: Config, prefix: str, family: str) -> list:
    return [
        {
            "name": "predictions",
            "layers": [
                named_entry("linear", "dense", out=c.int("embedding_size", 128)),
                activation_entry(c.activation("hidden_act", "gelu_new", GELU), "activation"),
                {"layernorm": {"eps": c.number("layer_norm_eps", 1e-12), "name": "LayerNorm"}},
                _decoder(c, "decoder", prefix),
            ],
        }
    ]


def _deberta_classifier(c: Config, prefix: str, family: str) -> list:
    """DebertaV2ForSequenceClassification: ContextPooler (first token, dropout, dense, activation), dropout,
    classifier."""
    d = c.int("hidden_size")
    if c.int("pooler_hidden_size", d) != d:
        raise _refuse(c, "pooler_hidden_size", d)
    return [
        {
            "name": "pooler",
            "layers": [
                {"select": {"dim": 1, "index": 0}},
                {"dropout": {"p": c.number("pooler_dropout", 0.0), "name": "dropout"}},
                named_entry("linear", "dense", out=d),
                activation_entry(c.activation("pooler_hidden_act", "gelu", GELU), "activation"),
            ],
        },
        {"dropout": {"p": c.number("hidden_dropout_prob", 0.1), "name": "dropout"}},
        named_entry("linear", "classifier", out=_labels(c)),
    ]


def _refuse(c: Config, key: str, d: int):
    from ...errors import SpecError

    return SpecError(f"{c.source}: '{key}' must equal hidden_size ({d}) for the classifier to read the pooler")


# head class -> (its model types, writer, whether the base model keeps its pooler)
Head = tuple[tuple[str, ...], Callable[[Config, str, str], list], bool]
HEADS: dict[str, Head] = {
    "BertForMaskedLM": (("bert",), _mlm, False),
    "BertForSequenceClassification": (("bert",), _bert_classifier, True),
    "RobertaForMaskedLM": (("roberta",), _roberta_mlm, False),
    "XLMRobertaForMaskedLM": (("xlm-roberta",), _roberta_mlm, False),
    "DistilBertForMaskedLM": (("distilbert",), _distilbert_mlm, False),
    "ElectraForPreTraining": (("electra",), _electra_discriminator, False),
    "ElectraForMaskedLM": (("electra",), _electra_generator, False),
    "AlbertForMaskedLM": (("albert",), _albert_mlm, False),
    "DebertaV2ForMaskedLM": (("deberta-v2",), _mlm, False),
    "DebertaV2ForSequenceClassification": (("deberta-v2",), _deberta_classifier, False),
}
CLASS_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,99}")


def architecture(c: Config) -> str | None:
    """The first class the config's `architectures` names (validated as a list of names by hf_config)."""
    names = c.raw.get("architectures")
    return names[0] if isinstance(names, list) and names else None


def _head(c: Config, family: str) -> Head | None:
    """The head the config names, where paramcalc writes it for this family."""
    name = architecture(c)
    head = HEADS.get(name) if name is not None else None
    if head is None or family not in head[0] or (name == "DebertaV2ForMaskedLM" and not c.flag("legacy", True)):
        return None
    return head


def wrapped(c: Config, family: str) -> bool:
    """Whether the base model is written inside the head's group (its names prefixed, as ties must say)."""
    return _head(c, family) is not None


def attach(c: Config, family: str, body: dict, base: str) -> tuple[dict, str, str]:
    """The body with the head the config names (and the class it mirrors), or the base model with a note
    saying why (a head paramcalc does not write)."""
    name = architecture(c)
    pooler = body.pop("pooler", 0)  # the base model's last entries that are its pooler
    if name is None or name == base:
        return body, base, ""
    head = _head(c, family)
    if head is None or name is None:
        shown = name if CLASS_NAME.fullmatch(name) else "a class"
        return body, base, f"architectures names {shown}, a head paramcalc does not write: this is its base model."
    _, write, keep = head
    layers = body["layers"] if keep or not pooler else body["layers"][:-pooler]
    prefix = PREFIX[family]
    model = {"name": prefix, "from": "input_ids", "layers": layers}
    return {**body, "layers": [model, *write(c, prefix, family)]}, name, ""
