"""Reading a spec: YAML text or inline `-l` layers -> a Spec whose every value knows where it was written.

The location-keeping YAML reader is yaml_reader.py, the inline language inline.py, the `${...}`
evaluator expressions.py. Nothing here knows the layer kinds; graph.py turns entries into layers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .errors import Loc, SpecError, describe, did_you_mean
from .values import value_class
from .yaml_reader import YList, YMap, base_loc, parse_yaml, read_text

META_KEYS = ("name", "from", "when", "repeat", "first", "freeze", "tie", "names", "connect")
ENTRY_WORDS = (*META_KEYS, "layers")  # what a list entry may say besides a kind or block: for suggestions
_META = frozenset(META_KEYS)
TOP_KEYS = ("version", "name", "input", "inputs", "batch", "dtype", "layers", "blocks", "outputs", "budget")


MAX_NAME = 128  # characters in one name (a layer's, a block's, the spec's)
_WORD = re.compile(r"[A-Za-z0-9_-]+")  # names that pass every check below
_DOTTED = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")


def check_name(
    name: str, loc: Loc | None, what: str, *, title: bool = False, dotted: bool = False, context: tuple[str, ...] = ()
) -> str:
    """Names are shown in terminals, tables, Markdown and annotations, and layer names are joined
    with dots into hierarchical names (`layer1.0.conv1`): printable text only. A layer, block or
    input name has no spaces; the spec's name (a title) may have them. A layer name may be a
    dotted path written flat (`features.0`, as `import torch` writes module paths), each part a
    word; block and input names have no dots."""
    if len(name) <= MAX_NAME and (_DOTTED if dotted else _WORD).fullmatch(name):
        return name  # the common case, at once
    from .escape import quote

    problem = None
    if not name:
        problem = "is empty"
    elif len(name) > MAX_NAME:
        problem = f"is {len(name):,} characters long; at most {MAX_NAME} are allowed"
    elif not all(ch == " " or ch.isprintable() for ch in name):
        problem = "contains a control or invisible character (a newline, tab, escape...)"
    elif not title and any(ch.isspace() for ch in name):
        problem = "contains a space; layer, block and input names are single words (use _ or -)"
    elif not title and "." in name and not dotted:
        problem = "contains '.', which separates the levels of a hierarchical name (block.layer)"
    elif dotted and "" in name.split("."):
        problem = "has an empty part: '.' separates the levels of a hierarchical name (block.layer)"
    if problem:
        raise SpecError(f"{what} {quote(name)} {problem}", loc, context=context)
    return name


# ---------------------------------------------------------------- spec structure


# What an entry without fields or keywords holds (most layers of a long spec: `- relu`): one shared,
# read-only mapping rather than five empty dicts each.
NOTHING: Mapping[str, Any] = MappingProxyType({})


# Entries are never compared or printed: a plain class (a dataclass costs start-up time to create).
class Entry:
    """One item of a `layers:` list, as written: a kind (or a group of layers) and its values."""

    __slots__ = (  # one per layer
        "kind",
        "loc",
        "kind_loc",
        "fields",
        "field_locs",
        "key_locs",
        "positional",
        "has_positional",
        "positional_loc",
        "meta",
        "meta_locs",
        "children",
    )

    def __init__(
        self,
        kind: str | None,
        loc: Loc,
        kind_loc: Loc,
        meta: Mapping[str, Any] = NOTHING,
        meta_locs: Mapping[str, Loc] = NOTHING,
        fields: Mapping[str, Any] = NOTHING,
        field_locs: Mapping[str, Loc] = NOTHING,
        key_locs: Mapping[str, Loc] = NOTHING,
    ):
        self.kind = kind  # None for a group (`layers:`)
        self.loc, self.kind_loc = loc, kind_loc
        self.fields = fields
        self.field_locs = field_locs  # where each field's value is written
        self.key_locs = key_locs  # where each field's key is written
        self.positional: Any = None  # `- maxpool2d: 2`: the kind's main field
        self.has_positional = False
        self.positional_loc: Loc | None = None
        self.meta = meta
        self.meta_locs = meta_locs
        self.children: list[Entry] | None = None


@value_class
class Spec:
    name: str
    inputs: dict[str, tuple[int, ...]]
    layers: list[Entry]
    blocks: dict[str, BlockDef]
    batch: int = 1
    dtype: str = "float32"
    outputs: list[tuple[str, Loc]] = field(default_factory=list)
    budget: dict[str, tuple[Any, Loc]] = field(default_factory=dict)
    source: str = "<spec>"
    loc: Loc | None = None

    def __init__(
        self,
        name,
        inputs,
        layers,
        blocks,
        batch=1,
        dtype="float32",
        outputs=None,
        budget=None,
        source="<spec>",
        loc=None,
    ):
        self.name, self.inputs, self.layers, self.blocks = name, inputs, layers, blocks
        self.batch, self.dtype = batch, dtype
        self.outputs = [] if outputs is None else outputs
        self.budget = {} if budget is None else budget
        self.source, self.loc = source, loc


class BlockDef:
    def __init__(self, name: str, args: dict[str, Any], layers: list[Entry], loc: Loc):
        self.name = name
        self.args = args  # None = required
        self.layers = layers
        self.loc = loc


def parse_entry(raw, loc: Loc) -> Entry:
    if isinstance(raw, str):
        if "(" in raw:
            from .inline import parse_inline

            return parse_inline(raw, loc)
        return Entry(raw, loc, loc)
    if not isinstance(raw, YMap):
        raise SpecError(
            f"a layer is a kind name or a mapping like {{conv2d: {{out: 64, kernel: 3}}}}, found {describe(raw)}", loc
        )
    meta: dict[str, Any] = {}
    meta_locs: dict[str, Loc] = {}
    kinds = []
    for k in raw:  # (a loop: a comprehension costs a function call, and a long spec has one entry per layer)
        if k in _META:
            meta[k], meta_locs[k] = raw[k], raw.value_locs[k]
        else:
            kinds.append(k)
    for key in kinds if len(kinds) > 1 else ():
        # `repaet: 3` beside a kind is a misspelt keyword, not a second kind missing its '-'
        close = did_you_mean(key, META_KEYS)
        if close and key.lower() not in META_KEYS:
            raise SpecError(f"unknown layer keyword '{key}'", raw.key_locs[key], hint=close)
    if not kinds:
        raise SpecError("this layer names no kind (keys found: " + ", ".join(raw) + ")", raw.loc)
    if len(kinds) > 1:
        raise SpecError(
            f"one kind per layer, found {' and '.join(kinds)}",
            raw.key_locs[kinds[1]],
            hint="a missing '-' before the second kind?",
        )
    kind = kinds[0]
    entry = Entry(kind, raw.loc, raw.key_locs[kind], meta or NOTHING, meta_locs or NOTHING)
    value = raw[kind]
    value_loc = raw.value_locs[kind]
    if kind == "layers":
        entry.kind = None
        entry.children = parse_entries(value, value_loc, "layers")
    elif isinstance(value, YMap) and _META.isdisjoint(value):
        # only fields: the mapping and its locations are the entry's (read, never changed)
        entry.fields, entry.field_locs, entry.key_locs = value, value.value_locs, value.key_locs
    elif isinstance(value, YMap):  # fields and keywords in one mapping
        fields: dict[str, Any] = {}
        field_locs: dict[str, Loc] = {}
        key_locs: dict[str, Loc] = {}
        for key, v in value.items():
            target, locs = (meta, meta_locs) if key in META_KEYS else (fields, field_locs)
            if key in META_KEYS and key in raw:
                raise SpecError(f"'{key}' is given twice, beside and inside '{kind}'", value.key_locs[key])
            target[key] = v
            locs[key] = value.value_locs[key]
            if key not in META_KEYS:
                key_locs[key] = value.key_locs[key]
        entry.meta, entry.meta_locs = meta, meta_locs
        entry.fields, entry.field_locs, entry.key_locs = fields, field_locs, key_locs
    elif value is not None:
        entry.positional, entry.has_positional = value, True
        entry.positional_loc = value_loc
    return entry


def parse_entries(raw, loc: Loc, what: str) -> list[Entry]:
    if not isinstance(raw, YList):
        raise SpecError(f"'{what}' must be a list of layers, found {describe(raw)}", loc)
    if not raw:
        raise SpecError(f"'{what}' is empty; a network needs at least one layer", loc)
    return [parse_entry(item, item_loc) for item, item_loc in zip(raw, raw.locs)]


def parse_shape(raw, loc: Loc, what: str = "input") -> tuple[int, ...]:
    """[3, 224, 224], "3x224x224", "3,224,224" or "[3,224,224]" -> (3, 224, 224)."""
    values = raw
    if isinstance(raw, list) and not raw:
        return ()  # one scalar per sample, e.g. a token id: nn.Embedding takes a 1-D batch of ids
    if isinstance(raw, int) and not isinstance(raw, bool):
        values = [raw]
    elif isinstance(raw, str):
        text = raw.replace(" ", "")
        if text[:1] + text[-1:] in ("[]", "()"):  # -i '[3,32,32]', as YAML writes it
            text = text[1:-1]
        parts = re.split(r"[x×,]", text)
        try:
            values = [int(p) for p in parts]
        except ValueError:
            raise SpecError(
                f"'{what}' expects a shape like [3, 224, 224] or 3x224x224, found {describe(raw)}", loc
            ) from None
    if (
        not isinstance(values, list)
        or not values
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values)
    ):
        raise SpecError(
            f"'{what}' expects a shape of positive integers like [3, 224, 224] "
            f"(one sample, no batch dimension), found {describe(raw)}",
            loc,
        )
    if len(values) > MAX_DIMS or _numel(values) >= 2**63:
        raise SpecError(
            f"'{what}' is larger than a PyTorch tensor can be (at most {MAX_DIMS} dimensions and "
            f"2^63 elements), found {describe(raw)}",
            loc,
        )
    return tuple(values)


MAX_DIMS = 64  # as many as PyTorch allows


def _numel(values) -> int:
    total = 1
    for v in values:
        total *= v
        if total >= 2**63:
            break
    return total


def _int_field(doc: YMap, key: str, default: int) -> int:
    value = doc.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < 2**63:
        raise SpecError(f"'{key}' expects a positive integer below 2^63, found {describe(value)}", doc.value_locs[key])
    return value


def spec_from_document(doc, source: str) -> Spec:
    from .layers.base import DTYPE_BYTES

    if not isinstance(doc, YMap):
        # A file that is one scalar may be anything (a token in a .env): only a word is quoted back.
        found = (
            describe(doc)
            if not isinstance(doc, str) or re.fullmatch(r"[A-Za-z_][\w-]{0,31}", doc)
            else "text that is not YAML structure"
        )
        raise SpecError(
            f"the top level of a spec must be a mapping with 'input' and 'layers', found {found}",
            base_loc(doc, Loc(source, 1, 1)),
        )
    for key in doc:
        if key not in TOP_KEYS:
            raise SpecError(
                f"unknown top-level key '{key}'",
                doc.key_locs[key],
                hint=did_you_mean(key, TOP_KEYS) or "top-level keys are " + ", ".join(TOP_KEYS),
            )
    version = doc.get("version", 1)
    if version != 1:
        raise SpecError(
            f"unsupported spec version {describe(version)}; this paramcalc reads version 1", doc.value_locs["version"]
        )
    if "input" in doc and "inputs" in doc:
        raise SpecError("give either 'input' or 'inputs', not both", doc.key_locs["inputs"])
    if "inputs" in doc:
        raw = doc["inputs"]
        if not isinstance(raw, YMap) or not raw:
            raise SpecError(
                "'inputs' maps input names to shapes, e.g. {image: [3, 224, 224]}", doc.value_locs["inputs"]
            )
        inputs = {
            check_name(name, raw.key_locs[name], "input name"): parse_shape(v, raw.value_locs[name], f"inputs.{name}")
            for name, v in raw.items()
        }
    elif "input" in doc:
        inputs = {"input": parse_shape(doc["input"], doc.value_locs["input"])}
    else:
        raise SpecError("the spec has no 'input' (the shape of one sample, e.g. input: [3, 224, 224])", doc.loc)
    if "layers" not in doc:
        raise SpecError("the spec has no 'layers' list", doc.loc)
    dtype = doc.get("dtype") or "float32"
    if dtype not in DTYPE_BYTES:
        raise SpecError(
            f"unknown dtype {describe(dtype)}",
            doc.value_locs["dtype"],
            hint=did_you_mean(str(dtype), DTYPE_BYTES) or "one of " + ", ".join(DTYPE_BYTES),
        )
    name = doc.get("name")
    if name is not None and not isinstance(name, str):
        name = str(name)
    if name is not None:
        check_name(name, doc.value_locs["name"], "the spec's name", title=True)
    spec = Spec(
        name=name or (Path(source).stem if source not in ("<stdin>", "<inline>") else "model"),
        inputs=inputs,
        layers=parse_entries(doc["layers"], doc.value_locs["layers"], "layers"),
        blocks=_parse_blocks(doc.get("blocks"), doc.value_locs.get("blocks")),
        batch=_int_field(doc, "batch", 1),
        dtype=dtype,
        source=source,
        loc=doc.loc,
    )
    if "outputs" in doc:
        raw = doc["outputs"]
        if not isinstance(raw, YList) or not all(isinstance(o, str) for o in raw):
            raise SpecError("'outputs' expects a list of layer names", doc.value_locs["outputs"])
        spec.outputs = list(zip(raw, raw.locs))  # references, resolved (or refused) by graph.py
    if "budget" in doc:
        raw = doc["budget"]
        if not isinstance(raw, YMap):
            raise SpecError("'budget' expects a mapping like {max_params: 25M}", doc.value_locs["budget"])
        spec.budget = {k: (v, raw.value_locs[k]) for k, v in raw.items()}
    return spec


def _parse_blocks(raw, loc) -> dict[str, BlockDef]:
    if raw is None:
        return {}
    if not isinstance(raw, YMap):
        raise SpecError("'blocks' maps block names to {args: ..., layers: [...]}", loc)
    blocks = {}
    for name, body in raw.items():
        check_name(name, raw.key_locs[name], "block name")
        body_loc = raw.value_locs[name]
        if not isinstance(body, YMap) or "layers" not in body:
            raise SpecError(f"block '{name}' needs a 'layers' list (and optionally 'args')", body_loc)
        for key in body:
            if key not in ("args", "layers", "doc"):
                raise SpecError(
                    f"unknown key '{key}' in block '{name}'",
                    body.key_locs[key],
                    hint=did_you_mean(key, ("args", "layers", "doc")),
                )
        args = body.get("args") or YMap(body_loc)
        if not isinstance(args, YMap):
            raise SpecError(
                f"block '{name}': 'args' maps argument names to defaults (null = required)", body.value_locs["args"]
            )
        blocks[name] = BlockDef(
            name,
            dict(args),
            parse_entries(body["layers"], body.value_locs["layers"], f"{name}.layers"),
            raw.key_locs[name],
        )
    return blocks


def load_spec(path: str) -> Spec:
    """Read a spec file (`-` for stdin)."""
    text, source = read_text(path)
    return parse_spec(text, source)


def parse_spec(text: str, source: str = "<spec>") -> Spec:
    return spec_from_document(parse_yaml(text, source), source)


def inline_spec(
    input_shape: str, layers: list[str], name: str = "inline", batch: int = 1, dtype: str = "float32"
) -> Spec:
    """The spec that `-i 1x32x32 -l 'conv2d(6, kernel=5)' ...` describes."""
    from .inline import parse_inline

    if not layers:
        raise SpecError("no layers given; add -l KIND(...) once per layer")
    entries = [parse_inline(text, Loc(f"-l {i}", 1, 1)) for i, text in enumerate(layers, 1)]
    return Spec(
        name=name,
        inputs={"input": parse_shape(input_shape, Loc("-i/--input", 0, 0))},
        layers=entries,
        blocks={},
        batch=batch,
        dtype=dtype,
        source="<inline>",
    )
