"""YAML that remembers where every value was written: mappings and lists carry file:line:col.

The document is built straight from the parser's events (no intermediate node tree), and its
values are counted as they are built: an alias adds the size of what it repeats without copying
it, so an alias bomb is refused at the alias that crosses the limit, before it costs anything.
"""

from __future__ import annotations

import os
import re
import stat

import yaml

from .errors import Loc, SpecError

# A spec of 100,000 layers written out (`- conv2d: {out: 8, kernel: 1}` each) holds about 400,000
# values; ten times fewer than a real network would ever need separates it from an alias bomb.
MAX_VALUES = 1_000_000
MAX_DEPTH = 100
MAX_KEY = 128  # characters of a mapping key: keys are field, block and input names
MAX_BYTES = 10 * 2**20


class YMap(dict):
    """A mapping from YAML that remembers where it, its keys and its values were written."""

    __slots__ = ("loc", "key_locs", "value_locs")  # a spec holds one per layer or more

    def __init__(self, loc: Loc):  # (no dict.__init__: an empty mapping needs none)
        self.loc = loc
        self.key_locs: dict[str, Loc] = {}
        self.value_locs: dict[str, Loc] = {}


class YList(list):
    __slots__ = ("loc", "locs")

    def __init__(self, loc: Loc):
        self.loc = loc
        self.locs: list[Loc] = []


def _mark(source: str, mark) -> Loc:
    return Loc(source, mark.line + 1, mark.column + 1)


_END = {yaml.MappingEndEvent, yaml.SequenceEndEvent}
_START = {yaml.MappingStartEvent, yaml.SequenceStartEvent}


_STANDARD = "tag:yaml.org,2002:"
_COLLECTION_TAGS = {None, "!", _STANDARD + "map", _STANDARD + "seq"}
_SCALAR_TAGS = {
    _STANDARD + t: what
    for t, what in (
        ("null", "null"),
        ("bool", "a boolean"),
        ("int", "an integer"),
        ("float", "a number"),
        ("str", "a string"),
        ("timestamp", "a date"),
        ("binary", "base64 binary data"),
    )
}
_MERGE = object()  # the pending key of a mapping after `<<:`
_MISSING = object()
# Plain scalars already read (`16`, `relu`, `true`): a spec repeats a few hundred texts thousands of times.
# Only immutable values are kept.
_PLAIN_VALUES: dict[tuple, object] = {}


class _Open:
    """A mapping or list being built, and where its next value goes."""

    __slots__ = ("value", "loc", "anchor", "count_at_start", "key", "key_loc", "merges")

    def __init__(self, value: YMap | YList, loc: Loc, anchor: str | None, count_at_start: int):
        self.value, self.loc, self.anchor, self.count_at_start = value, loc, anchor, count_at_start
        self.key: object = None  # str, _MERGE, or None while a key is awaited
        self.key_loc: Loc | None = None
        self.merges: list = []


class _Composer:
    def __init__(self, loader, source: str):
        self.loader, self.source = loader, source
        self.count = 0
        self.anchors: dict[str, tuple[object, int] | None] = {}  # None while the anchored value is open

    def counted(self, n: int, loc: Loc):
        self.count += n
        if self.count > MAX_VALUES:
            raise SpecError(
                f"the YAML expands to more than {MAX_VALUES:,} values (an alias bomb?); refusing to read it", loc
            )

    def scalar(self, event, loc: Loc):
        if event.tag is None and not event.style:  # plain ('' from libyaml, None from PyYAML): same text, same value
            key = (event.value, event.implicit)
            value = _PLAIN_VALUES.get(key, _MISSING)
            if value is _MISSING:
                value = self.constructed(event, loc)
                if type(value) in (int, float, bool, str, type(None)) and len(_PLAIN_VALUES) < 100_000:
                    _PLAIN_VALUES[key] = value
            return value
        return self.constructed(event, loc)

    def constructed(self, event, loc: Loc):
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(yaml.ScalarNode, event.value, event.implicit)
        if tag not in _SCALAR_TAGS:
            raise SpecError(f"unsupported YAML tag {_tag_text(tag)} on a value", loc)
        node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
        try:
            return self.loader.yaml_constructors[tag](self.loader, node)
        except Exception as e:  # PyYAML's constructors fail in many ways on bad text (IndexError, AttributeError...)
            from .escape import cut, quote

            reason = getattr(e, "problem", None) or str(e)
            raise SpecError(f"cannot read {quote(event.value)} as {_SCALAR_TAGS[tag]} ({cut(reason)})", loc) from None

    def compose(self):
        """The document's root value, built from events with an explicit stack (no recursion)."""
        get_event, source = self.loader.get_event, self.source
        new_loc = tuple.__new__  # Loc's own __new__, without its Python frame: a spec has one per value
        scalar_event = yaml.ScalarEvent
        stack: list[_Open] = []
        top: _Open | None = None  # stack[-1]: the mapping or list being built
        while True:
            event = get_event()
            kind = type(event)
            if kind in _END:
                done = stack.pop()
                top = stack[-1] if stack else None
                if done.merges:
                    _merge(done)
                value, loc = done.value, done.loc
                if done.anchor:
                    self.anchors[done.anchor] = (value, self.count - done.count_at_start)
            else:
                mark = event.start_mark
                loc = new_loc(Loc, (source, mark.line + 1, mark.column + 1))
                awaiting_key = top is not None and top.key is None and type(top.value) is YMap
                if kind is scalar_event:
                    if awaiting_key:
                        key = event.value
                        if len(key) > MAX_KEY or key == "<<" or key in top.value.key_locs:
                            self.key(top, event, loc)  # refused, or a merge
                        else:
                            top.key, top.key_loc = key, loc
                        continue
                    value = self.scalar(event, loc)
                    self.count += 1
                    if self.count > MAX_VALUES:
                        self.counted(0, loc)
                    if event.anchor:
                        self.anchors[event.anchor] = (value, 1)
                elif kind is yaml.AliasEvent:
                    if awaiting_key:
                        raise SpecError("a mapping key must be a plain name, not an alias", loc)
                    if event.anchor not in self.anchors:
                        raise SpecError(
                            f"invalid YAML: the alias *{_tag_text(event.anchor)} names no anchor above it", loc
                        )
                    if self.anchors[event.anchor] is None:
                        raise SpecError(
                            f"the alias *{_tag_text(event.anchor)} is inside the value it names "
                            "(a recursive alias); refusing to read it",
                            loc,
                        )
                    value, size = self.anchors[event.anchor]
                    self.counted(size, loc)
                elif kind in _START:
                    if awaiting_key:
                        raise SpecError("a mapping key must be a plain name", loc)
                    if len(stack) >= MAX_DEPTH:
                        raise SpecError(f"the YAML nests deeper than {MAX_DEPTH} levels; refusing to read it", loc)
                    if event.tag not in _COLLECTION_TAGS:
                        raise SpecError(f"unsupported YAML tag {_tag_text(event.tag)}", loc)
                    self.count += 1
                    if self.count > MAX_VALUES:
                        self.counted(0, loc)
                    if event.anchor:
                        self.anchors[event.anchor] = None
                    opened = YMap(loc) if kind is yaml.MappingStartEvent else YList(loc)
                    top = _Open(opened, loc, event.anchor, self.count - 1)
                    stack.append(top)
                    continue
                else:
                    raise SpecError(f"invalid YAML: unexpected {type(event).__name__}", loc)
            # The finished value goes into the mapping or list being built.
            if top is None:
                return value
            target, key = top.value, top.key
            if type(key) is str:
                target[key] = value
                target.key_locs[key] = top.key_loc
                target.value_locs[key] = loc
                top.key = None
            elif type(target) is YList:
                target.append(value)
                target.locs.append(loc)
            else:  # the value of a merge key (<<)
                top.merges.append((value, loc))
                top.key = None

    def key(self, top: _Open, event, loc: Loc):
        key = event.value
        if len(key) > MAX_KEY:
            from .escape import cut

            raise SpecError(
                f"a key of {len(key):,} characters ({cut(key, 40)}); keys are names of at most {MAX_KEY} characters",
                loc,
            )
        if key == "<<" and event.implicit[0] and event.tag is None:
            top.key = _MERGE
            return
        assert isinstance(top.value, YMap)  # keys are read only inside a mapping
        if key in top.value.key_locs:
            first = top.value.key_locs[key]
            raise SpecError(f"duplicate key '{key}' (first written at line {first.line})", loc)
        top.key, top.key_loc = key, loc


def _merge(done: _Open):
    """YAML merge keys (`<<: *base`, `<<: [*a, *b]`): explicit keys win, then earlier sources."""
    out = done.value
    assert isinstance(out, YMap)  # only a mapping has merge keys
    for value, loc in done.merges:
        for source in value if isinstance(value, YList) else [value]:
            if not isinstance(source, YMap):
                raise SpecError("a merge key (<<) needs a mapping", base_loc(source, loc))
            for key, v in source.items():
                if key not in out:
                    out[key] = v
                    out.key_locs[key] = source.key_locs[key]
                    out.value_locs[key] = source.value_locs[key]


def _tag_text(tag) -> str:
    from .escape import cut

    return cut(tag, 40)


def base_loc(value, fallback):
    return getattr(value, "loc", fallback)


# libyaml's parser when PyYAML has it (several times faster); both give line/column marks.
class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]  # a base chosen at import
    """YAML 1.1 reads 1e-12 (no dot) as a string; spec writers mean the number, as in YAML 1.2 and JSON."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def parse_yaml(text: str, source: str):
    loader = _Loader(text)
    try:
        loader.get_event()  # stream start
        if loader.check_event(yaml.StreamEndEvent):
            raise SpecError("the spec is empty; it needs at least 'input' and 'layers'", Loc(source, 1, 1))
        loader.get_event()  # document start
        root = _Composer(loader, source).compose()
        loader.get_event()  # document end
        if not loader.check_event(yaml.StreamEndEvent):
            extra = loader.peek_event()
            raise SpecError(
                "a spec is one YAML document; this file holds a second one (after ---)", _mark(source, extra.start_mark)
            )
        return root
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = " ".join(filter(None, [e.context, e.problem]))
        line = text.splitlines()[mark.line] if mark and mark.line < len(text.splitlines()) else ""
        hint = (
            'inside {...} or [...], YAML needs ${...} quoted: "${width * 4}" (or write $width)'
            if "${" in line
            else None
        )
        raise SpecError(
            f"invalid YAML: {problem}", _mark(source, mark) if mark else Loc(source, 1, 1), hint=hint
        ) from None
    except yaml.YAMLError as e:
        raise SpecError(f"invalid YAML: {e}", Loc(source, 1, 1)) from None
    finally:
        loader.dispose()


_NOT_REGULAR = (
    (stat.S_ISDIR, "is a directory, not a spec file"),
    (stat.S_ISFIFO, "is a named pipe (FIFO), not a file"),
    (stat.S_ISCHR, "is a device, not a file"),
    (stat.S_ISBLK, "is a device, not a file"),
    (stat.S_ISSOCK, "is a socket, not a file"),
)


def _not_regular(mode: int) -> str | None:
    return next((why for test, why in _NOT_REGULAR if test(mode)), None if stat.S_ISREG(mode) else "is not a file")


def read_text(path: str) -> tuple[str, str]:
    """(text, source name) of a spec file, or `-` for stdin. Only a regular file is read (a FIFO
    or device is refused without blocking on it), and at most MAX_BYTES of it."""
    import sys

    from .escape import cut

    if path == "-":
        data, source = sys.stdin.buffer.read(MAX_BYTES + 1), "<stdin>"
    else:
        shown = cut(path, 160)
        try:
            info = os.stat(path)
            if _not_regular(info.st_mode):
                raise SpecError(f"{shown}: {_not_regular(info.st_mode)}")
            if info.st_size > MAX_BYTES:
                raise SpecError(f"{shown}: larger than {MAX_BYTES // 2**20} MiB ({info.st_size:,} bytes); not a spec")
            # O_NONBLOCK: should the path have become a FIFO since the stat, opening it still returns.
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
            with os.fdopen(fd, "rb") as f:
                if _not_regular(os.fstat(fd).st_mode):
                    raise SpecError(f"{shown}: {_not_regular(os.fstat(fd).st_mode)}")
                data = f.read(MAX_BYTES + 1)
        except FileNotFoundError:
            raise SpecError(f"{shown}: no such file") from None
        except OSError as e:
            raise SpecError(f"{shown}: cannot read ({e.strerror or e})") from None
        except ValueError:  # a NUL byte in the path
            raise SpecError(f"{shown}: not a valid file name") from None
        source = path
    if len(data) > MAX_BYTES:
        raise SpecError(f"{cut(source, 160)}: larger than {MAX_BYTES // 2**20} MiB; not a spec")
    if b"\0" in data:
        raise SpecError(
            "a NUL byte: this is a binary file, not a YAML spec", _byte_loc(data, data.index(b"\0"), source)
        )
    bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0  # a BOM is fine, and dropped
    try:
        # (as "utf-8-sig" decodes, but with the built-in codec: that one is a module to import)
        return (data[bom:] if bom else data).decode("utf-8"), source
    except UnicodeDecodeError as e:
        offset = e.start + bom
        raise SpecError(
            f"byte 0x{data[offset]:02x} (offset {offset}) is not UTF-8 text; a spec is UTF-8",
            _byte_loc(data, offset, source),
        ) from None


def _byte_loc(data: bytes, offset: int, source: str) -> Loc:
    """Where a byte of a file is, as line and column (characters, as an editor counts them)."""
    start = data.rfind(b"\n", 0, offset) + 1
    if start == 0 and data.startswith(b"\xef\xbb\xbf"):
        start = 3  # a BOM is no column
    return Loc(source, data.count(b"\n", 0, offset) + 1, len(data[start:offset].decode("utf-8", "replace")) + 1)
