"""`paramcalc schema`: a JSON Schema (draft 2020-12) of the spec format, generated from the layer
registry, so a new kind or field appears in editors without touching this file.

Block names are the user's, so a spec that defines `blocks` accepts any other key as a block use;
without `blocks`, an unknown kind is rejected. Fields of known kinds are always checked.
"""

from __future__ import annotations

from typing import Any

from .budget import KEYS as BUDGET_KEYS, SETTINGS as BUDGET_SETTINGS, setting_schema
from .kinds import kind_doc
from .layers import REGISTRY
from .layers.base import DTYPE_BYTES, REQUIRED
from .spec import META_KEYS

EXPRESSION = {"type": "string", "pattern": r"^.*\$", "description": "a ${...} expression of block arguments"}


def _field_type(arg) -> dict:
    integer = {"type": "integer"} if arg.min is None else {"type": "integer", "minimum": arg.min}
    per_dim = {"type": "array", "items": {"anyOf": [integer, EXPRESSION]}}
    return {
        "int": integer,
        "size": {"anyOf": [integer, per_dim]},
        "padding": {"anyOf": [integer, per_dim, {"enum": ["same", "valid"]}]},
        "bool": {"type": "boolean"},
        "float": {"type": "number"},
        "optional_size": {"anyOf": [integer, {"type": "array", "items": {"anyOf": [integer, {"type": "null"}]}}]},
        "dims": {
            "anyOf": [{"type": "integer"}, {"type": "array", "items": {"anyOf": [{"type": "integer"}, EXPRESSION]}}]
        },
        "int_or_ints": {
            "anyOf": [{"type": "integer"}, {"type": "array", "items": {"anyOf": [{"type": "integer"}, EXPRESSION]}}]
        },
        "floats": {"anyOf": [{"type": "number"}, {"type": "array", "items": {"type": "number"}}]},
        "str": {"type": "string"},
        "choice": {"enum": list(arg.choices)},
    }[arg.type]


def _value(arg, default) -> dict:
    schema = {"anyOf": [_field_type(arg), EXPRESSION, {"type": "null"}], "description": arg.doc}
    if default is not REQUIRED and default is not None:
        schema["default"] = list(default) if isinstance(default, tuple) else default
    return schema


META = {
    "name": {"type": ["string", "integer"], "description": "unique name (hierarchical inside blocks)"},
    "from": {
        "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
        "description": "input layer(s); default: the previous layer",
    },
    "when": {"anyOf": [{"type": "boolean"}, EXPRESSION], "description": "skip the layer when false"},
    "repeat": {"anyOf": [{"type": "integer", "minimum": 0}, EXPRESSION]},
    "first": {"type": "object", "description": "fields that differ in the first repetition"},
    "freeze": {"type": "boolean", "description": "count the parameters as non-trainable"},
    "tie": {"type": "string", "description": "share the weight of this earlier layer (counted once)"},
    "names": {
        "type": "string",
        "description": "how a repeat's copies, or a group's unnamed items, are named: {i} their 0-based "
        'position, {n} 1-based (denselayer{n}; "{i}" numbers them as nn.Sequential does)',
    },
    "connect": {
        "anyOf": [{"enum": ["dense"]}, EXPRESSION],
        "description": "dense: each copy of a repeat reads its input and every earlier copy's output, "
        "concatenated along dim 1 (DenseNet's dense block); the repeat's output is all of them concatenated",
    },
}
assert set(META) == set(META_KEYS)


def _kind_entry(cls) -> dict:
    fields = cls.fields()
    defaults = cls.defaults()
    props = {}
    for name, arg in fields.items():
        for spelling in (name, *arg.aka):
            props[spelling] = _value(arg, defaults[name])
    body = {"type": "object", "properties": {**props, **META}, "additionalProperties": False}
    if not props:
        body["description"] = f"{cls.kind} has no fields"
    value: dict[str, Any] = {"anyOf": [body, {"type": "null"}], "description": kind_doc(cls).split("\n")[0]}
    if cls.primary:
        value["anyOf"].append(_value(fields[cls.primary], REQUIRED))
    return value


def _spellings(cls) -> list[str]:
    return list(dict.fromkeys([cls.kind, cls.torch_name] if "." not in cls.torch_name else [cls.kind]))


def build_schema() -> dict:
    kind_defs = {f"kind_{cls.kind}": _kind_entry(cls) for cls in REGISTRY.values()}
    spellings = {s: f"#/$defs/kind_{cls.kind}" for cls in REGISTRY.values() for s in _spellings(cls)}
    kind_names = sorted(spellings)
    # One alternative per spelling: {kind: fields} plus the meta keys, nothing else.
    strict_entries = {
        "anyOf": [
            {"type": "object", "required": [k], "properties": {k: {"$ref": ref}}, "propertyNames": {"enum": [k, *META]}}
            for k, ref in spellings.items()
        ]
    }

    def group(layers_ref):
        return {
            "type": "object",
            "required": ["layers"],
            "properties": {"layers": {"$ref": layers_ref}, **META},
            "additionalProperties": False,
        }

    inline = {"type": "string", "pattern": r"^\s*[A-Za-z_]\w*\s*\(.*\)\s*$", "description": "kind(value, key=value)"}
    block_use = {
        "type": "object",
        "minProperties": 1,
        "maxProperties": 8,
        "properties": META,
        "propertyNames": {"not": {"enum": kind_names + ["layers"]}},
        "description": "a block of this spec",
    }
    shape = {
        "anyOf": [
            {"type": "array", "items": {"type": "integer", "minimum": 1}},
            {"type": "string", "pattern": r"^\d+([x×,]\d+)*$"},
        ]
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:paramcalc:spec:v1",
        "title": "paramcalc spec (version 1)",
        "type": "object",
        "properties": {
            "version": {"const": 1},
            "name": {"type": "string"},
            "input": {
                "$ref": "#/$defs/shape",
                "description": "one sample's shape, channels first, no batch ([]: one scalar, e.g. a token id)",
            },
            "inputs": {"type": "object", "additionalProperties": {"$ref": "#/$defs/shape"}},
            "batch": {"type": "integer", "minimum": 1},
            "dtype": {"enum": list(DTYPE_BYTES)},
            "layers": {"type": "array", "description": "the network, in execution order"},
            "blocks": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "required": ["layers"],
                    "additionalProperties": False,
                    "properties": {
                        "args": {"type": ["object", "null"]},
                        "layers": {"$ref": "#/$defs/block_layers"},
                        "doc": {"type": "string"},
                    },
                },
            },
            "outputs": {"type": "array", "items": {"type": "string"}},
            "budget": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    k: setting_schema(k) if k in BUDGET_SETTINGS else {"type": ["integer", "string", "array"]}
                    for k in BUDGET_KEYS
                },
            },
        },
        "required": ["layers"],
        "oneOf": [{"required": ["input"]}, {"required": ["inputs"]}],
        "additionalProperties": False,
        "if": {"required": ["blocks"]},
        "then": {"properties": {"layers": {"$ref": "#/$defs/block_layers"}}},
        "else": {"properties": {"layers": {"$ref": "#/$defs/layers"}}},
        "$defs": {
            **kind_defs,
            "meta": {"type": "object", "properties": META},
            "shape": shape,
            "kind_entry": {"allOf": [{"$ref": "#/$defs/meta"}, strict_entries]},
            "entry": {"anyOf": [{"enum": kind_names}, inline, {"$ref": "#/$defs/kind_entry"}, group("#/$defs/layers")]},
            "block_entry": {
                "anyOf": [{"type": "string"}, {"$ref": "#/$defs/kind_entry"}, group("#/$defs/block_layers"), block_use]
            },
            "layers": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/entry"}},
            "block_layers": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/block_entry"}},
        },
    }
