"""The `${...}` expressions of block arguments: a small, safe evaluator and its substitution into values."""

from __future__ import annotations

import ast
import operator
import re
from itertools import chain
from typing import Any

from .errors import Loc, SpecError, did_you_mean
from .escape import cut
from .yaml_reader import YList, YMap

_WHOLE = re.compile(r"^\$(?:\{(.+)\}|([A-Za-z_]\w*))$", re.S)
_PART = re.compile(r"\$\{(.+?)\}|\$([A-Za-z_]\w*)")
_BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.Div: lambda a, b: a // b if a % b == 0 else a / b,
}
_SYMBOLS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**", ast.Div: "/"}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}
_CMPS = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_FUNCS = {"min": min, "max": max, "int": int, "round": round}
_WORDS = {"true": True, "false": False, "null": None}  # YAML's words for constants, read as names

# Budgets: an expression is a line of arithmetic on layer sizes, never a computation.
MAX_CHARS = 1000  # of the expression's text
MAX_NODES = 200  # of its syntax tree
MAX_DEPTH = 32  # nesting of its syntax tree
MAX_VALUE = 10**18  # every integer or number it reads or makes stays below this (in magnitude)
MAX_ITEMS = 1000  # characters of a string, or items of a list, it makes


def type_name(value) -> str:
    """What a value is called in a spec, for messages (never a Python type name)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "a value"


def check_size(tree, fail, what: str = "expressions are short arithmetic"):
    """Counts the nodes and depth of a syntax tree with an explicit stack (no recursion), before
    anything walks it recursively."""
    count, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            fail(f"has more than {MAX_NODES} parts; {what}")
        if depth > MAX_DEPTH:
            fail(f"nests deeper than {MAX_DEPTH} levels")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


# Parsed expressions by text: a block's expressions are evaluated once per use, parsed once. Trees are
# only read. Bounded, as a library process may read many specs.
_PARSED: dict[str, ast.expr] = {}
MAX_PARSED = 4096


def evaluate(text: str, env: dict[str, Any], loc: Loc, context, shape_of=None) -> Any:
    """Evaluates a small, safe expression: arithmetic, comparisons, and/or/not, `a if c else b`,
    list indexing and `shape(NAME)` (the per-sample shape of a layer or input, via `shape_of`),
    within budgets (size of the expression, magnitude of numbers, length of strings and lists)."""
    tree = _PARSED.get(text)
    if tree is None:
        tree = _parse(text, loc, context)
    return _Evaluation(text, env, loc, context, shape_of).ev(tree)


def _parse(text: str, loc: Loc, context) -> ast.expr:
    fail = _Evaluation(text, {}, loc, context, None).fail
    if len(text) > MAX_CHARS:
        fail(f"is {len(text):,} characters long; at most {MAX_CHARS:,} are allowed")
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        raise SpecError(f"cannot read the expression ${{{cut(text, 60)}}}", loc, context=context) from None
    check_size(tree, fail)
    if len(_PARSED) >= MAX_PARSED:
        _PARSED.clear()
    _PARSED[text] = tree
    return tree


class _Evaluation:
    """One evaluation's values. A class rather than nested functions: those would reference each
    other in a cycle that only the garbage collector frees, and the CLI runs without it."""

    __slots__ = ("text", "env", "loc", "context", "shape_of")

    def __init__(self, text: str, env: dict[str, Any], loc: Loc, context, shape_of):
        self.text, self.env, self.loc, self.context, self.shape_of = text, env, loc, context, shape_of

    def fail(self, problem, hint=None):
        raise SpecError(f"${{{cut(self.text, 60)}}} {problem}", self.loc, context=self.context, hint=hint)

    def bounded(self, value):
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, (int, float)):
            if not (-MAX_VALUE < value < MAX_VALUE):  # also refuses inf and nan
                self.fail(
                    f"gives {'a number' if isinstance(value, float) else 'an integer'} beyond ±10^18; "
                    "expressions compute layer sizes"
                )
            return value
        if isinstance(value, (str, list)):
            if len(value) > MAX_ITEMS:
                self.fail(f"makes {type_name(value)} longer than {MAX_ITEMS:,}")
            if isinstance(value, list) and size(value) > MAX_ITEMS:
                self.fail(f"makes a list of more than {MAX_ITEMS:,} items and characters, nested lists counted")
            return value
        return value

    def formatted(self, template: str, values):
        """`'%5d' % w`: each width and precision is checked before Python pads to it."""
        for width in chain.from_iterable(re.findall(_FORMAT_SIZES, template)):
            if width == "*" or width and int(width) > MAX_ITEMS:
                self.fail(f"formats to a width or precision of {cut(width, 20)}; at most {MAX_ITEMS:,} are allowed")
        return template % values

    def binop(self, node):
        op = type(node.op)
        if op not in _BINOPS:
            self.unsupported()
        a, b = self.ev(node.left), self.ev(node.right)
        if op is ast.Pow and type(b) is int and isinstance(a, (int, float)) and not isinstance(a, bool) and abs(a) > 1:
            # Checked before computing: 9**9**9 would never return.
            if b > 0 and b * (int(abs(a)).bit_length() - 1) > 60:
                self.fail(f"raises {a} to the power {b}; the result would be beyond ±10^18")
        if op is ast.Mult and (isinstance(a, (str, list)) or isinstance(b, (str, list))):
            seq, times = (a, b) if isinstance(a, (str, list)) else (b, a)
            if not isinstance(times, int) or isinstance(times, bool) or not isinstance(seq, (str, list)):
                self.fail(f"cannot multiply {type_name(a)} by {type_name(b)}")
            if size(seq) * max(times, 0) > MAX_ITEMS:  # nested lists counted: [[0] * 999] * 999 is refused
                self.fail(f"repeats {type_name(seq)} to more than {MAX_ITEMS:,} items")
        try:
            if op is ast.Mod and isinstance(a, str):
                return self.bounded(self.formatted(a, b))
            return self.bounded(_BINOPS[op](a, b))
        except ZeroDivisionError:
            self.fail("divides by zero")
        except (TypeError, ValueError, OverflowError, ArithmeticError):
            self.fail(f"cannot compute {type_name(a)} {_SYMBOLS[op]} {type_name(b)}")

    def call(self, node):
        if node.keywords:
            self.fail(f"{node.func.id}() takes no named arguments")
        args = [self.ev(a) for a in node.args]
        if node.func.id == "round" and len(args) == 2 and type(args[0]) is int and type(args[1]) is int:
            # round(4, -10**17) would compute 10**(10**17); below 10^18, -40 digits round as any fewer do
            args[1] = max(args[1], -40)
        try:
            return self.bounded(_FUNCS[node.func.id](*args))
        except (TypeError, ValueError, OverflowError, ArithmeticError):
            given = ", ".join(type_name(a) for a in args) or "nothing"
            self.fail(f"cannot compute {node.func.id}() of {given}")

    def index(self, value, i):
        if not isinstance(value, (list, tuple)) or isinstance(i, bool) or not isinstance(i, int):
            self.fail(f"cannot index {type_name(value)} with {type_name(i)}: indexing takes a list and an integer")
        if not -len(value) <= i < len(value):
            self.fail(f"reads index {i}, outside a list of {len(value)} ({list(value)})")
        return value[i]

    def shape(self, node):
        if len(node.args) != 1 or node.keywords or not isinstance(node.args[0], ast.Name) or self.shape_of is None:
            self.fail(
                "calls shape() wrongly: shape() takes one layer name, as in shape(input) or shape(conv1), "
                "and works where layers are built"
            )
        return list(self.shape_of(node.args[0].id, self.loc))

    def ev(self, node):
        read = _READERS.get(type(node))
        return read(self, node) if read is not None else self.unsupported()

    def unsupported(self):
        self.fail(
            "uses something expressions cannot: only arithmetic, comparisons, and/or/not, "
            "'a if c else b', list[i], shape(NAME) and min/max/int/round are allowed"
        )

    def constant(self, node):
        if isinstance(node.value, (bytes, complex)) or node.value is Ellipsis:
            self.fail("uses a value a spec cannot hold")
        return self.bounded(node.value)

    def name(self, node):
        if node.id in _WORDS:
            return _WORDS[node.id]
        if node.id not in self.env:
            self.fail(
                f"uses '{node.id}', which is not an argument here (arguments: {', '.join(self.env) or 'none'})",
                hint=did_you_mean(node.id, self.env),
            )
        return self.bounded(self.env[node.id])

    def unary(self, node):
        if type(node.op) not in _UNARY:
            self.unsupported()
        value = self.ev(node.operand)
        if not isinstance(node.op, ast.Not) and not isinstance(value, (int, float)):
            self.fail(f"cannot negate {type_name(value)}")
        return self.bounded(_UNARY[type(node.op)](value))

    def boolean(self, node):
        values = [self.ev(v) for v in node.values]
        return all(values) if isinstance(node.op, ast.And) else any(values)

    def compare(self, node):
        if not all(type(op) in _CMPS for op in node.ops):
            self.unsupported()
        left = self.ev(node.left)
        for op, right_node in zip(node.ops, node.comparators):
            right = self.ev(right_node)
            try:
                if not _CMPS[type(op)](left, right):
                    return False
            except TypeError:
                self.fail(f"cannot compare {type_name(left)} with {type_name(right)}")
            left = right
        return True

    def choose(self, node):
        return self.ev(node.body) if self.ev(node.test) else self.ev(node.orelse)

    def sequence(self, node):
        return self.bounded([self.ev(e) for e in node.elts])

    def subscript(self, node):
        return self.index(self.ev(node.value), self.ev(node.slice))

    def function(self, node):
        if not isinstance(node.func, ast.Name):
            self.unsupported()
        if node.func.id == "shape":
            return self.shape(node)
        if node.func.id in _FUNCS:
            return self.call(node)
        self.unsupported()


# What each kind of syntax node is read by; any other is refused.
_READERS = {
    ast.Constant: _Evaluation.constant,
    ast.Name: _Evaluation.name,
    ast.BinOp: _Evaluation.binop,
    ast.UnaryOp: _Evaluation.unary,
    ast.BoolOp: _Evaluation.boolean,
    ast.Compare: _Evaluation.compare,
    ast.IfExp: _Evaluation.choose,
    ast.List: _Evaluation.sequence,
    ast.Tuple: _Evaluation.sequence,
    ast.Subscript: _Evaluation.subscript,
    ast.Call: _Evaluation.function,
}


# A width or precision of a %-format: `%(key)-08.3f` -> 8 and 3 (and `*`, which takes one from the values).
# (Text, compiled by re when first used: few specs format a string.)
_FORMAT_SIZES = r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d*))?"


def size(value, limit: int = MAX_ITEMS) -> int:
    """Items of its lists and characters of its strings, a nested list counted as often as it
    appears (what printing or comparing the value walks), without recursion and no further than
    just past `limit`."""
    count, stack = 0, [value]
    while stack and count <= limit:
        item = stack.pop()
        if isinstance(item, str):
            count += len(item)
        elif isinstance(item, (list, tuple, dict)):
            count += len(item)
            stack.extend(item.values() if isinstance(item, dict) else item)
    return count


PLAIN = {int, float, bool, type(None)}  # what substitute() returns as it is


def substitute(value, env, loc, context, shape_of=None):
    """Replaces ${...} in a raw value; a string that is only `${expr}` keeps the expression's type."""
    if type(value) in PLAIN:
        return value
    if isinstance(value, str) and "$" in value:
        whole = _WHOLE.match(value)
        if whole:
            name = whole.group(2)  # `$out`: most substitutions read an argument as it is
            if name is not None and name not in _WORDS:
                found = env.get(name)
                if (
                    type(found) is int
                    and -MAX_VALUE < found < MAX_VALUE
                    or type(found) is str
                    and len(found) <= MAX_ITEMS
                ):
                    return found  # (what evaluating the name gives: see _Evaluation.name and bounded)
            return evaluate(whole.group(1) or name, env, loc, context, shape_of)
        return _PART.sub(lambda m: str(evaluate(m.group(1) or m.group(2), env, loc, context, shape_of)), value)
    if isinstance(value, YList):
        out = YList(value.loc)
        out.locs = value.locs
        out.extend([substitute(v, env, v_loc, context, shape_of) for v, v_loc in zip(value, value.locs)])
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
