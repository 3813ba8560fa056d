"""The inline layer language of `-l`: `conv2d(6, kernel=5, stride=2x2)`, read as a Python call."""

from __future__ import annotations

import ast
import re
from typing import Any

from .errors import Loc, SpecError
from .spec import META_KEYS, Entry

_TIMES = re.compile(r"\b\d+(?:x\d+)+\b")


def parse_inline(text: str, loc: Loc) -> Entry:
    """`conv2d(6, kernel=5, stride=2x2)` -> an Entry, parsed as a Python call whose bare names
    are strings (same, valid) or booleans (true/false)."""
    from .escape import quote
    from .expressions import MAX_CHARS, check_size

    shown = quote(text, 60)
    if len(text) > MAX_CHARS:
        raise SpecError(f"layer {shown} is {len(text):,} characters long; at most {MAX_CHARS:,} are allowed", loc)
    prepared = _TIMES.sub(lambda m: "(" + m.group(0).replace("x", ",") + ")", text.strip())
    shift = loc.col - 1
    try:
        tree = ast.parse(prepared, mode="eval").body
    except SyntaxError as e:
        raise SpecError(
            f"cannot read layer {shown}: {e.msg}; write kind(value, key=value, ...)",
            Loc(loc.source, loc.line, shift + (e.offset or 1)),
        ) from None
    except (ValueError, MemoryError, RecursionError):  # NUL bytes, a number of 5,000 digits
        raise SpecError(f"cannot read layer {shown}; write kind(value, key=value, ...)", loc) from None

    def too_big(problem):
        raise SpecError(f"layer {shown} {problem}", loc)

    check_size(tree, too_big, "an inline layer is a kind and a few values")
    if isinstance(tree, ast.Name):
        return Entry(kind=tree.id, loc=loc, kind_loc=loc)
    if not isinstance(tree, ast.Call) or not isinstance(tree.func, ast.Name):
        raise SpecError(f"cannot read layer {shown}; write kind(value, key=value, ...)", loc)

    def at(node):
        return Loc(loc.source, loc.line, shift + node.col_offset + 1)

    if len(tree.args) > 1:
        raise SpecError(
            "only one positional value (the kind's main field) is allowed; name the others (key=value)",
            at(tree.args[1]),
        )
    positional = _literal(tree.args[0], at) if tree.args else None
    meta: dict[str, Any] = {}
    meta_locs: dict[str, Loc] = {}
    fields: dict[str, Any] = {}
    field_locs: dict[str, Loc] = {}
    key_locs: dict[str, Loc] = {}
    for kw in tree.keywords:
        if kw.arg is None:
            raise SpecError("'**' is not supported here", at(kw.value))
        value = _literal(kw.value, at)
        target, locs = (meta, meta_locs) if kw.arg in META_KEYS else (fields, field_locs)
        if kw.arg in target:
            raise SpecError(f"'{kw.arg}' is given twice", at(kw.value))
        target[kw.arg] = value
        locs[kw.arg] = at(kw.value)
        if kw.arg not in META_KEYS:
            key_locs[kw.arg] = at(kw)
    entry = Entry(tree.func.id, loc, at(tree.func), meta, meta_locs, fields, field_locs, key_locs)
    if tree.args:
        entry.positional, entry.has_positional = positional, True
        entry.positional_loc = at(tree.args[0])
    return entry


_NAMES = {"true": True, "True": True, "false": False, "False": False, "null": None, "None": None}


def _literal(node, at):
    if isinstance(node, ast.Constant):
        if isinstance(node.value, (bytes, complex)) or node.value is Ellipsis:
            raise SpecError("expected a number, a name, true/false or a tuple like (3, 3)", at(node))
        return node.value
    if isinstance(node, ast.Name):
        return _NAMES.get(node.id, node.id)
    if isinstance(node, (ast.Tuple, ast.List)):
        return [_literal(e, at) for e in node.elts]
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
        and type(node.operand.value) in (int, float)
    ):
        return -node.operand.value
    raise SpecError("expected a number, a name, true/false or a tuple like (3, 3)", at(node))
