"""paramcalc's JSON layout: indented, with lists of plain values (shapes, names) kept on one line.

The whole document is written in one pass into a list of pieces, joined once or written one by one;
the rows of a table are encoded a chunk at a time as they are written. A list of rows
(dicts with the same keys: the layers, the blocks) is written column by column: each column is
encoded at C speed by the function that fits all its values (`repr` writes a list of ints as JSON
writes it), then every row is one `%` of a template made from the keys. A value of any other type
is written by `json.dumps`, which defines the layout.
"""

import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, fields, is_dataclass
from itertools import chain
from json.encoder import encode_basestring  # ensure_ascii=False, as values are written
from operator import attrgetter, itemgetter

_NONE = type(None)
_SCALARS = {int, str, bool, _NONE}


def _printable(text: str) -> str:
    """Valid JSON either way, but a raw DEL, C1 control, U+2028 or bidi override in a spec's name would
    reach a terminal: such characters are written as \\u escapes."""
    if text.isascii() and "\x7f" not in text:
        return text
    return "".join(ch if ch == " " or ch.isprintable() else json.dumps(ch)[1:-1] for ch in text)


def _string(value: str) -> str:
    return _printable(encode_basestring(value))


def _strings(value: list) -> str:
    return "[" + ", ".join(map(_string, value)) + "]"


def _plain_strings(value: list) -> str:
    if len(value) == 1:  # a row's inputs, most often: half the time of a join
        return "[" + encode_basestring(value[0]) + "]"
    return "[" + ", ".join(map(encode_basestring, value)) + "]"


def _printable_as_is(texts) -> bool:
    """Whether encode_basestring's JSON of each of these strings is all `_printable` would write
    (ASCII without DEL), asked once for a column rather than once a string."""
    text = "".join(texts)
    return text.isascii() and "\x7f" not in text


def _plain_list(value: list) -> str | None:
    """A list of only ints or only strings, on one line; None for anything else."""
    if not value:
        return "[]"
    first = type(value[0])
    if first is int:
        if all(type(v) is int for v in value):
            return repr(value)
    elif first is str:
        if all(type(v) is str for v in value):
            return _strings(value)
    return None


def _column(values: Sequence, indent: str, keys: dict):
    """Every value of one column, written as `_write` would write it at `indent`; ints are left as
    they are, for the row template's %s writes them as JSON does."""
    types = set(map(type, values))
    if not types <= _SCALARS:
        distinct = {id(v): v for v in values}
        if len(distinct) * 2 < len(values):  # rows share their shapes and fields: each is written once
            texts = dict(zip(distinct, _column(list(distinct.values()), indent, keys)))
            return [texts[id(v)] for v in values]
    if types == {int}:
        return values
    if types == {str}:
        return map(encode_basestring if _printable_as_is(values) else _string, values)
    if types == {_NONE}:
        return ["null"] * len(values)
    if types == {str, _NONE}:
        return ["null" if v is None else _string(v) for v in values]
    if types == {bool}:
        return ["true" if v else "false" for v in values]
    if types == {list}:
        items = set(map(type, chain.from_iterable(values)))
        if items <= {int} or items <= {int, float} and _finite(values):
            return map(repr, values)  # [1, 32, 0.5]: Python writes a list of numbers as JSON does
        if items == {str}:
            return map(_plain_strings if _printable_as_is(chain.from_iterable(values)) else _strings, values)
        if items == {list} and set(map(type, chain.from_iterable(chain.from_iterable(values)))) <= {int}:
            return map(repr, values)  # shapes: [[1, 32, 32], [8, 16, 16]]
    if dict in types and types <= {dict, _NONE}:
        dicts = [v for v in values if v is not None]
        if all(dicts) and len(set(map(tuple, dicts))) == 1:  # dicts of the same keys: a table inside
            inner = indent + "  "
            names = [_key(k, keys).replace("%", "%%") for k in dicts[0]]
            template = "{\n" + ",\n".join(f"{inner}{name}: %s" for name in names) + f"\n{indent}}}"
            written = map(
                template.__mod__, zip(*[_column(column, inner, keys) for column in zip(*map(dict.values, dicts))])
            )
            return ["null" if v is None else next(written) for v in values]
    return [_text(v, indent, keys) for v in values]


def _finite(lists) -> bool:
    """No inf or nan in these lists (Python and JSON write those differently)."""
    return all(v - v == 0 for v in chain.from_iterable(lists) if type(v) is float)


CHUNK = 2048  # rows encoded at a time: the memory of a table's encoding stays that of a few rows


class Rows:
    """A list of rows of one dataclass, written as the list of dicts of their fields (in order) that
    `dataclasses.asdict` would give, read column by column without building those dicts."""

    __slots__ = ("rows",)

    def __init__(self, rows: list):
        self.rows = rows


def _table(rows: list, names: list, get, indent: str, out: list, keys: dict) -> None:
    """Rows (non-empty, all with the fields `names`, read by `get(name)`) as a list of dicts."""
    inner, field = indent + "  ", indent + "    "
    template = "{\n" + ",\n".join(f"{field}{_key(k, keys).replace('%', '%%')}: %s" for k in names) + f"\n{inner}}}"
    getters = [get(name) for name in names]

    def chunks():
        separator = f"[\n{inner}"
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            columns = [_column(list(map(getter, chunk)), field, keys) for getter in getters]
            yield separator + f",\n{inner}".join(map(template.__mod__, zip(*columns)))
            separator = f",\n{inner}"

    out.append(chunks())  # written when the text is: a 100,000-row table is never held whole
    out.append(f"\n{indent}]")


def _rows(rows: list, indent: str, out: list, keys: dict) -> bool:
    """A list of at least two non-empty dicts sharing their keys, written as a table; False for any
    other list."""
    if len(rows) < 2 or set(map(type, rows)) != {dict} or len(set(map(tuple, rows))) != 1 or not rows[0]:
        return False
    _table(rows, list(rows[0]), itemgetter, indent, out, keys)
    return True


def _dataclass_rows(rows: list, indent: str, out: list, keys: dict) -> None:
    if len(set(map(type, rows))) == 1 and fields(rows[0]):
        _table(rows, [f.name for f in fields(rows[0])], attrgetter, indent, out, keys)
    else:
        _write([asdict(row) for row in rows], indent, out, keys)


def _key(key, keys: dict) -> str:
    """A key as json.dumps writes it (ASCII-escaped), encoded once per document."""
    name = keys.get(key) if type(key) is str else None
    if name is None:
        name = json.dumps(key)
        if type(key) is str:
            keys[key] = name
    return name


def _write(value, indent: str, out: list, keys: dict) -> None:
    kind = type(value)
    if kind is str:
        out.append(_string(value))
    elif kind is int:
        out.append(str(value))
    elif value is None:
        out.append("null")
    elif kind is list and (line := _plain_list(value)) is not None:
        out.append(line)
    elif kind is Rows:
        if value.rows:
            _dataclass_rows(value.rows, indent, out, keys)
        else:
            out.append("[]")
    elif isinstance(value, dict) and value:
        inner = indent + "  "
        separator = "{\n"
        for key, item in value.items():
            out.append(separator + inner + _key(key, keys) + ": ")
            separator = ",\n"
            _write(item, inner, out, keys)
        out.append("\n" + indent + "}")
    elif isinstance(value, list) and value and any(isinstance(v, (dict, list)) and v for v in value):
        if all(isinstance(v, list) and not any(isinstance(x, (dict, list)) for x in v) for v in value):
            out.append(json.dumps(value))
        elif not _rows(value, indent, out, keys):
            inner = indent + "  "
            separator = "[\n"
            for item in value:
                out.append(separator + inner)
                separator = ",\n"
                _write(item, inner, out, keys)
            out.append("\n" + indent + "]")
    elif is_dataclass(value) and not isinstance(value, type):  # a row inside a row, as asdict has it
        _write(asdict(value), indent, out, keys)
    else:
        out.append(_printable(json.dumps(value, ensure_ascii=False)))


def _text(value, indent: str, keys: dict) -> str:
    out: list = []
    _write(value, indent, out, keys)
    return "".join(_pieces(out))


def _pieces(out: list) -> Iterator[str]:
    """The text `_write` gave: strings, and the chunks of tables, made as they are read."""
    for piece in out:
        if type(piece) is str:
            yield piece
        else:
            yield from piece


def json_parts(value) -> Iterator[str]:
    """`to_json`'s text in pieces, to be written one after the other without joining them. The
    values are read as the pieces are: they must not change meanwhile."""
    out: list = []
    _write(value, "", out, {})
    out.append("\n")
    return _pieces(out)


def to_json(value) -> str:
    """Indented JSON in which lists of plain values (shapes, names) stay on one line."""
    return "".join(json_parts(value))


def render_json_parts(report) -> Iterator[str]:
    return json_parts(report.to_dict(rows=Rows))


def render_json(report) -> str:
    return "".join(render_json_parts(report))
