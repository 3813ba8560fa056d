"""The `${...}` expressions of block arguments: a small, safe evaluator and its substitution into values."""

from __future__ import annotations

import ast
import operator
import re
from typing import Any

from .errors import Loc, SpecError, did_you_mean
from .yaml_reader import YList, YMap

_WHOLE = re.compile(r"^\$(?:\{(.+)\}|([A-Za-z_]\w*))$", re.S)
_PART = re.compile(r"\$\{(.+?)\}|\$([A-Za-z_]\w*)")
_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.FloorDiv: operator.floordiv,
           ast.Mod: operator.mod, ast.Pow: operator.pow, ast.Div: lambda a, b: a // b if a % b == 0 else a / b}
_CMPS = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
         ast.Gt: operator.gt, ast.GtE: operator.ge}
_FUNCS = {"min": min, "max": max, "int": int, "round": round}
_OP_SIGNS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**", ast.Div: "/",
             ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
             ast.USub: "-", ast.UAdd: "+"}


def spec_type(value) -> str:
    """What a value is called in a spec (never a Python class name)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    return "a mapping" if isinstance(value, dict) else "a value"


def evaluate(text: str, env: dict[str, Any], loc: Loc, context, shape_of=None) -> Any:
    """Evaluates a small, safe expression: arithmetic, comparisons, and/or/not, `a if c else b`,
    list indexing, and `shape(NAME)` (the per-sample shape of a layer or input, via `shape_of`)."""
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise SpecError(f"cannot read the expression ${{{text}}}", loc, context=context) from None

    def ev(node):
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in ("true", "false", "null"):
                return {"true": True, "false": False, "null": None}[node.id]
            if node.id not in env:
                raise SpecError(f"${{{text}}} uses '{node.id}', which is not an argument here "
                                f"(arguments: {', '.join(env) or 'none'})", loc, context=context,
                                hint=did_you_mean(node.id, env))
            return env[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return typed(_BINOPS[type(node.op)], node.op, ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp):
            value = ev(node.operand)
            if isinstance(node.op, ast.Not):
                return not value
            return typed({ast.USub: operator.neg, ast.UAdd: operator.pos}[type(node.op)], node.op, value)
        if isinstance(node, ast.BoolOp):
            values = [ev(v) for v in node.values]
            return all(values) if isinstance(node.op, ast.And) else any(values)
        if isinstance(node, ast.Compare) and all(type(op) in _CMPS for op in node.ops):
            left = ev(node.left)
            for op, right_node in zip(node.ops, node.comparators):
                right = ev(right_node)
                if not typed(_CMPS[type(op)], op, left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.IfExp):
            return ev(node.body) if ev(node.test) else ev(node.orelse)
        if isinstance(node, (ast.List, ast.Tuple)):
            return [ev(e) for e in node.elts]
        if isinstance(node, ast.Subscript):
            return index(ev(node.value), ev(node.slice))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "shape":
            if len(node.args) != 1 or node.keywords or not isinstance(node.args[0], ast.Name) or shape_of is None:
                raise SpecError(f"${{{text}}}: shape() takes one layer name, as in shape(input) or shape(conv1), "
                                f"and works where layers are built", loc, context=context)
            return list(shape_of(node.args[0].id, loc))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS:
            args = [ev(a) for a in node.args]
            if not args or any(isinstance(a, bool) or not isinstance(a, (int, float)) for a in args):
                found = ", ".join(spec_type(a) for a in args) or "nothing"
                raise SpecError(f"${{{text}}}: {node.func.id}() expects numbers, found {found}", loc, context=context)
            return _FUNCS[node.func.id](*args)
        raise SpecError(f"${{{text}}}: only arithmetic, comparisons, and/or/not, 'a if c else b', list[i], "
                        f"shape(NAME) and min/max/int/round are allowed", loc, context=context)

    def typed(fn, op, *values):
        """An operator on spec values; a type mismatch is told in spec words (a list, a number)."""
        try:
            if isinstance(op, ast.operator) and any(isinstance(v, (list, tuple, dict)) for v in values):
                raise TypeError   # no list arithmetic: `[0] * 10**9` must not build a list
            return fn(*values)
        except TypeError:
            found = " and ".join(spec_type(v) for v in values)
            raise SpecError(f"cannot evaluate ${{{text}}}: '{_OP_SIGNS[type(op)]}' does not apply to {found}",
                            loc, context=context) from None

    def index(value, i):
        if not isinstance(value, (list, tuple)) or isinstance(i, bool) or not isinstance(i, int):
            raise SpecError(f"cannot evaluate ${{{text}}}: indexing takes a list and an integer, found "
                            f"{spec_type(value)} and {spec_type(i)}", loc, context=context)
        if not -len(value) <= i < len(value):
            raise SpecError(f"cannot evaluate ${{{text}}}: index {i} is outside a list of {len(value)} "
                            f"({list(value)})", loc, context=context)
        return value[i]

    try:
        return ev(tree)
    except SpecError:
        raise
    except (TypeError, ValueError, ZeroDivisionError, OverflowError) as e:
        raise SpecError(f"cannot evaluate ${{{text}}}: {e}", loc, context=context) from None


def substitute(value, env, loc, context, shape_of=None):
    """Replaces ${...} in a raw value; a string that is only `${expr}` keeps the expression's type."""
    if isinstance(value, str) and "$" in value:
        whole = _WHOLE.match(value)
        if whole:
            return evaluate(whole.group(1) or whole.group(2), env, loc, context, shape_of)
        return _PART.sub(lambda m: str(evaluate(m.group(1) or m.group(2), env, loc, context, shape_of)), value)
    if isinstance(value, YList):
        out = YList(value.loc)
        out.locs = value.locs
        out.extend(substitute(v, env, l, context, shape_of) for v, l in zip(value, value.locs))
        return out
    if isinstance(value, list):
        return [substitute(v, env, loc, context, shape_of) for v in value]
    if isinstance(value, YMap):
        out = YMap(value.loc)
        out.key_locs, out.value_locs = value.key_locs, value.value_locs
        for k, v in value.items():
            out[k] = substitute(v, env, value.value_locs.get(k, loc), context, shape_of)
        return out
    return value
