"""What every family's importer shares: typed reading of the config, and the spec's building blocks."""

from __future__ import annotations

import math

from ...errors import SpecError, describe


class Config:
    """Typed access to a config's values, each failure naming the file and the key."""

    def __init__(self, raw: dict, source: str):
        self.raw, self.source = raw, source

    def _fail(self, key, wanted, value):
        return SpecError(f"{self.source}: '{key}' expects {wanted}, found {describe(value)}")

    def ints(self, key: str, default: list, length: int | None = None) -> list:
        """A list of positive integers (per-stage sizes), of `length` items where that is given."""
        value = self.raw.get(key)
        value = default if value is None else value
        if (
            not isinstance(value, list)
            or not value
            or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in value)
        ):
            raise self._fail(key, "a list of positive integers", value)
        if length is not None and len(value) != length:
            raise self._fail(key, f"a list of {length} positive integers", value)
        return value

    def labels(self) -> int:
        """The classifier's classes as transformers' config counts them: num_labels where the config says it (set
        after id2label, it replaces a map of another length), else id2label's entries, else 2."""
        labels = self.raw.get("id2label")
        if self.raw.get("num_labels") is None and isinstance(labels, dict) and labels:
            return len(labels)
        return self.int("num_labels", 2, minimum=0)

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


def named_entry(kind, name, **fields):
    return {kind: {**fields, "name": name}}


def bert_embeddings(c: Config, dim: int, eps: float, summed: tuple[str, ...], dropout: float) -> dict:
    """BERT's embeddings group (ALBERT's too): word, position and token type embeddings `dim` wide, summed in
    the order the model sums them, then LayerNorm and dropout. The default position and token type ids are
    buffers of 1 × max_position_embeddings each, in a group of their own, so that the embeddings read the
    network's inputs of those names."""
    positions = c.int("max_position_embeddings")
    return {
        "name": "embeddings",
        "from": "input_ids",
        "layers": [
            {
                "name": "ids",
                "layers": [
                    {"buffer": {"shape": [1, positions], "name": "position_ids"}},
                    {"buffer": {"shape": [1, positions], "name": "token_type_ids"}},
                ],
            },
            named_entry("embedding", "word_embeddings", num=c.int("vocab_size"), dim=dim, **{"from": "input_ids"}),
            named_entry("embedding", "position_embeddings", num=positions, dim=dim, **{"from": "position_ids"}),
            named_entry(
                "embedding",
                "token_type_embeddings",
                num=c.int("type_vocab_size", 2),
                dim=dim,
                **{"from": "token_type_ids"},
            ),
            {"add": {"from": list(summed)}},
            {"layernorm": {"eps": eps, "name": "LayerNorm"}},
            {"dropout": {"p": c.number("hidden_dropout_prob", dropout), "name": "dropout"}},
        ],
    }


def activation_entry(kind, name):
    """An activation entry; `kind` is a kind name or {kind: fields}."""
    if isinstance(kind, dict):
        ((k, fields),) = kind.items()
        return {k: {**fields, "name": name}}
    return {kind: {"name": name}}


# transformers' rope types (its ROPE_INIT_FUNCTIONS; "su" the older name of longrope) -> the attention's rope_scaling
ROPE_TYPES = {"default": "none", "linear": "linear", "llama3": "llama3", "dynamic": "dynamic"}
ROPE_TYPES |= {"yarn": "yarn", "longrope": "longrope", "su": "longrope"}


def rope_number(c: Config, key: str, default: float) -> float:
    """A rope value at the config's top level (transformers 4, checkpoints) or in transformers 5's
    rope_parameters (where it moves partial_rotary_factor)."""
    params = c.raw.get("rope_parameters")
    if c.raw.get(key) is None and isinstance(params, dict) and params.get(key) is not None:
        return Config(params, f"{c.source}: 'rope_parameters'").number(key, default)
    return c.number(key, default)


def rope_fields(c: Config, interleaved: bool = False, theta_key: str = "rope_theta", theta: float = 10000.0) -> dict:
    """The attention's rope fields that are not at their defaults: the base (rope_theta), the scaling
    (rope_scaling, or transformers 5's rope_parameters, which also holds rope_theta) with the factors export
    needs, and the interleaved layout. `theta`: the family's default base in transformers 5."""
    params = c.raw.get("rope_parameters")
    key = "rope_parameters"
    if params is None:
        params, key = c.raw.get("rope_scaling"), "rope_scaling"
    if params is not None and not isinstance(params, dict):
        raise c._fail(key, "a mapping (or null)", params)
    params = params or {}
    if isinstance(params.get("full_attention"), dict):  # transformers 5, per layer type (Gemma 3)
        params, key = params["full_attention"], f"{key}.full_attention"
    scaling = Config(params, f"{c.source}: '{key}'")
    theta = scaling.number("rope_theta", c.number(theta_key, theta))
    if not 0 < theta < math.inf:
        raise c._fail("rope_theta", "a positive number", theta)
    fields: dict = {} if theta == 10000.0 else {"rope_theta": float(theta)}
    if interleaved:
        fields["rope_interleaved"] = True
    kind = params.get("rope_type", params.get("type", "default"))
    if not isinstance(kind, str) or kind not in ROPE_TYPES:
        raise c._fail(f"{key}.rope_type", "one of " + ", ".join(sorted(ROPE_TYPES)), kind)
    if ROPE_TYPES[kind] != "none":
        fields["rope_scaling"] = ROPE_TYPES[kind]
    needed = {"factor": "rope_factor"}
    if kind == "llama3":
        needed |= {"low_freq_factor": "rope_low_freq_factor", "high_freq_factor": "rope_high_freq_factor"}
    for name, field in needed.items() if kind in ("linear", "llama3") else ():
        if scaling.raw.get(name) is None:
            raise SpecError(f"{scaling.source}: rope_type {kind} needs '{name}'")
        fields[field] = float(scaling.number(name, 0))
        if not 0 < fields[field] < math.inf:
            raise scaling._fail(name, "a positive number", scaling.raw[name])
    if kind == "llama3":
        fields["rope_original_positions"] = scaling.int("original_max_position_embeddings")
    return fields


def projected_attention(name: str, d: int, heads: int, causal: bool, kv_from: str, k_bias: bool = True) -> dict:
    """The encoder-decoders' attention (BART's, Whisper's, CLIP's): q, k, v and out projections of d features
    around the `attention` operation, k and v read from `kv_from` (the encoder's output, for cross-attention);
    Whisper's k projection has no bias."""
    if d % heads:
        raise SpecError(f"attention heads ({heads}) must divide d_model ({d})")
    kv = {"out": d, **({} if k_bias else {"bias": False}), "from": kv_from}
    return {
        "name": name,
        "layers": [
            named_entry("linear", "q_proj", out=d),
            named_entry("linear", "k_proj", **kv),
            named_entry("linear", "v_proj", out=d, **{"from": kv_from}),
            {
                "attention": {
                    "heads": heads,
                    "causal": causal,
                    "from": ["q_proj", "k_proj", "v_proj"],
                    "name": "attention",
                }
            },
            named_entry("linear", "out_proj", out=d),
        ],
    }
