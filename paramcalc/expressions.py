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


def evaluate(text: str, env: dict[str, Any], loc: Loc, context) -> Any:
    """Evaluates a small, safe expression: arithmetic, comparisons, and/or/not, `a if c else b`."""
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
            return _BINOPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp):
            value = ev(node.operand)
            return {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}[type(node.op)](value)
        if isinstance(node, ast.BoolOp):
            values = [ev(v) for v in node.values]
            return all(values) if isinstance(node.op, ast.And) else any(values)
        if isinstance(node, ast.Compare) and all(type(op) in _CMPS for op in node.ops):
            left = ev(node.left)
            for op, right_node in zip(node.ops, node.comparators):
                right = ev(right_node)
                if not _CMPS[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.IfExp):
            return ev(node.body) if ev(node.test) else ev(node.orelse)
        if isinstance(node, (ast.List, ast.Tuple)):
            return [ev(e) for e in node.elts]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS:
            return _FUNCS[node.func.id](*[ev(a) for a in node.args])
        raise SpecError(f"${{{text}}}: only arithmetic, comparisons, and/or/not, 'a if c else b' and "
                        f"min/max/int/round are allowed", loc, context=context)

    try:
        return ev(tree)
    except SpecError:
        raise
    except (TypeError, ValueError, ZeroDivisionError, OverflowError) as e:
        raise SpecError(f"cannot evaluate ${{{text}}}: {e}", loc, context=context) from None


def substitute(value, env, loc, context):
    """Replaces ${...} in a raw value; a string that is only `${expr}` keeps the expression's type."""
    if isinstance(value, str) and "$" in value:
        whole = _WHOLE.match(value)
        if whole:
            return evaluate(whole.group(1) or whole.group(2), env, loc, context)
        return _PART.sub(lambda m: str(evaluate(m.group(1) or m.group(2), env, loc, context)), value)
    if isinstance(value, YList):
        out = YList(value.loc)
        out.locs = value.locs
        out.extend(substitute(v, env, l, context) for v, l in zip(value, value.locs))
        return out
    if isinstance(value, list):
        return [substitute(v, env, loc, context) for v in value]
    if isinstance(value, YMap):
        out = YMap(value.loc)
        out.key_locs, out.value_locs = value.key_locs, value.value_locs
        for k, v in value.items():
            out[k] = substitute(v, env, value.value_locs.get(k, loc), context)
        return out
    return value
