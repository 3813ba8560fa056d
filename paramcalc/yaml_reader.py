"""YAML that remembers where every value was written: mappings and lists carry file:line:col.

Values are counted while they are built, so an alias bomb is refused before it costs memory.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from .errors import Loc, SpecError

MAX_NODES = 100_000      # a YAML alias bomb expands past this long before it hurts
MAX_DEPTH = 100
MAX_BYTES = 10 * 2**20


class YMap(dict):
    """A mapping from YAML that remembers where it, its keys and its values were written."""

    def __init__(self, loc: Loc):
        super().__init__()
        self.loc = loc
        self.key_locs: dict[str, Loc] = {}
        self.value_locs: dict[str, Loc] = {}


class YList(list):
    def __init__(self, loc: Loc):
        super().__init__()
        self.loc = loc
        self.locs: list[Loc] = []


def _mark(source: str, mark) -> Loc:
    return Loc(source, mark.line + 1, mark.column + 1)


class _Converter:
    def __init__(self, loader: yaml.SafeLoader, source: str):
        self.loader, self.source, self.nodes = loader, source, 0

    def convert(self, node, depth=0):
        self.nodes += 1
        loc = _mark(self.source, node.start_mark)
        if self.nodes > MAX_NODES or depth > MAX_DEPTH:
            raise SpecError(f"the YAML expands to more than {MAX_NODES:,} values or {MAX_DEPTH} levels "
                            "(an alias bomb or a recursive alias?); refusing to read it", loc)
        if isinstance(node, yaml.ScalarNode):
            return self.loader.construct_object(node)
        if isinstance(node, yaml.SequenceNode):
            out = YList(loc)
            for item in node.value:
                out.locs.append(_mark(self.source, item.start_mark))
                out.append(self.convert(item, depth + 1))
            return out
        out = YMap(loc)
        merged = []
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                merged.append(value_node)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise SpecError("a mapping key must be a plain name", _mark(self.source, key_node.start_mark))
            key = key_node.value
            key_loc = _mark(self.source, key_node.start_mark)
            if key in out:
                first = out.key_locs[key]
                raise SpecError(f"duplicate key '{key}' (first written at line {first.line})", key_loc)
            out.key_locs[key] = key_loc
            out.value_locs[key] = _mark(self.source, value_node.start_mark)
            out[key] = self.convert(value_node, depth + 1)
        for value_node in merged:  # YAML merge keys (<<: *base): explicit keys win
            sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            for source in sources:
                base = self.convert(source, depth + 1)
                if not isinstance(base, YMap):
                    raise SpecError("a merge key (<<) needs a mapping", base_loc(base, loc))
                for key, value in base.items():
                    if key not in out:
                        out[key] = value
                        out.key_locs[key] = base.key_locs[key]
                        out.value_locs[key] = base.value_locs[key]
        return out


def base_loc(value, fallback):
    return getattr(value, "loc", fallback)


# libyaml's parser when PyYAML has it (several times faster); both give line/column marks.
class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """YAML 1.1 reads 1e-12 (no dot) as a string; spec writers mean the number, as in YAML 1.2 and JSON."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"), list("-+0123456789."))


def parse_yaml(text: str, source: str):
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise SpecError("the spec is empty; it needs at least 'input' and 'layers'", Loc(source, 1, 1))
        return _Converter(loader, source).convert(node)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = " ".join(filter(None, [e.context, e.problem]))
        line = text.splitlines()[mark.line] if mark and mark.line < len(text.splitlines()) else ""
        hint = ("inside {...} or [...], YAML needs ${...} quoted: \"${width * 4}\" (or write $width)"
                if "${" in line else None)
        raise SpecError(f"invalid YAML: {problem}", _mark(source, mark) if mark else Loc(source, 1, 1),
                        hint=hint) from None
    except yaml.YAMLError as e:
        raise SpecError(f"invalid YAML: {e}", Loc(source, 1, 1)) from None
    finally:
        loader.dispose()


def read_text(path: str) -> tuple[str, str]:
    """(text, source name) of a spec file, or `-` for stdin."""
    import sys
    if path == "-":
        data, source = sys.stdin.buffer.read(MAX_BYTES + 1), "<stdin>"
    else:
        p = Path(path)
        if not p.exists():
            raise SpecError(f"{path}: no such file")
        if p.is_dir():
            raise SpecError(f"{path}: is a directory, not a spec file")
        try:
            with p.open("rb") as f:
                data = f.read(MAX_BYTES + 1)
        except OSError as e:
            raise SpecError(f"{path}: cannot read ({e.strerror})") from None
        source = path
    if len(data) > MAX_BYTES:
        raise SpecError(f"{source}: larger than {MAX_BYTES // 2**20} MiB; not a spec")
    if b"\0" in data:
        raise SpecError(f"{source}: is a binary file (it contains NUL bytes), not a YAML spec")
    try:
        return data.decode("utf-8"), source
    except UnicodeDecodeError as e:
        raise SpecError(f"{source}: is not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start})") from None
