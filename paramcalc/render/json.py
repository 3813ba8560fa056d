"""paramcalc's JSON layout: indented, with lists of plain values (shapes, names) kept on one line.

The whole document is written in one pass into a list of chunks, joined once. A list of rows
(dicts with the same keys: the layers, the blocks) is written column by column: each column is
encoded at C speed by the function that fits all its values (`repr` writes a list of ints as JSON
writes it), then every row is one `%` of a template made from the keys. A value of any other type
is written by `json.dumps`, which defines the layout.
"""

import json
from itertools import chain
from json.encoder import encode_basestring as _string          # ensure_ascii=False, as values are written

_NONE = type(None)


def _strings(value: list) -> str:
    return "[" + ", ".join(map(_string, value)) + "]"


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


def _column(values: tuple, indent: str, keys: dict):
    """Every value of one column, written as `_write` would write it at `indent`."""
    types = set(map(type, values))
    if types == {int}:
        return map(str, values)
    if types == {str}:
        return map(_string, values)
    if types == {_NONE}:
        return ["null"] * len(values)
    if types == {str, _NONE}:
        return ["null" if v is None else _string(v) for v in values]
    if types == {list}:
        items = set(map(type, chain.from_iterable(values)))
        if items <= {int}:
            return map(repr, values)      # [1, 32, 32]: Python writes a list of ints as JSON does
        if items == {str}:
            return map(_strings, values)
        if items == {list} and set(map(type, chain.from_iterable(chain.from_iterable(values)))) <= {int}:
            return map(repr, values)      # shapes: [[1, 32, 32], [8, 16, 16]]
    return [_text(v, indent, keys) for v in values]


def _rows(rows: list, indent: str, keys: dict) -> str | None:
    """A list of at least two non-empty dicts sharing their keys, written column by column
    (None for any other list)."""
    if len(rows) < 2 or set(map(type, rows)) != {dict} or len(set(map(tuple, rows))) != 1 or not rows[0]:
        return None
    inner, field = indent + "  ", indent + "    "
    names = [_key(k, keys).replace("%", "%%") for k in rows[0]]
    template = "{\n" + ",\n".join(f"{field}{name}: %s" for name in names) + f"\n{inner}}}"
    columns = [_column(column, field, keys) for column in zip(*map(dict.values, rows))]
    return f"[\n{inner}" + f",\n{inner}".join(map(template.__mod__, zip(*columns))) + f"\n{indent}]"


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
        elif (table := _rows(value, indent, keys)) is not None:
            out.append(table)
        else:
            inner = indent + "  "
            separator = "[\n"
            for item in value:
                out.append(separator + inner)
                separator = ",\n"
                _write(item, inner, out, keys)
            out.append("\n" + indent + "]")
    else:
        out.append(json.dumps(value, ensure_ascii=False))


def _text(value, indent: str, keys: dict) -> str:
    out: list[str] = []
    _write(value, indent, out, keys)
    return "".join(out)


def to_json(value) -> str:
    """Indented JSON in which lists of plain values (shapes, names) stay on one line."""
    return _text(value, "", {}) + "\n"


def render_json(report) -> str:
    return to_json(report.to_dict())
