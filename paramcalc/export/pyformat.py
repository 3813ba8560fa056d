"""Python formatting: generated expressions (Call, Kw, Hole, ... from layers/binding.py) and statements
written as `ruff format` writes them, at the project's line length."""

from __future__ import annotations

from ..layers.binding import Call, Hole, Kw, Pair, Star

LINE = 120  # ruff format's line length in this project, and the generated code's


def _visible(call: Call, sub) -> list:
    """A call's items as written: keyword arguments at their default left out, runs of equal items starred."""
    items = [i for i in call.items if not (isinstance(i, Kw) and isinstance(i.value, Hole) and sub(i.value) is None)]
    if not call.runs:
        return items
    out: list = []
    texts = [flat(i, sub) for i in items]
    i = 0
    while i < len(items):
        j = i
        while j < len(items) and texts[j] == texts[i]:
            j += 1
        out += [Star(items[i], j - i)] if j - i >= 3 else items[i:j]
        i = j
    return out


def flat(e, sub) -> str:
    """An expression on one line; `sub` gives each hole's text (None: left out)."""
    if isinstance(e, str):
        return e
    if isinstance(e, Hole):
        return sub(e)
    if isinstance(e, Kw):
        return f"{e.key}={flat(e.value, sub)}"
    if isinstance(e, Pair):
        return f"{e.key}: {flat(e.value, sub)}"
    if isinstance(e, Star):
        return f"*[{flat(e.item, sub)} for _ in range({e.count})]"
    items = _visible(e, sub)
    if _comprehension(e, items):  # [Block() for _ in range(3)], not [*[...]]
        return flat(items[0], sub)[1:]
    inner = ", ".join(flat(i, sub) for i in items)
    return f"{e.func}{e.brackets[0]}{inner}{e.brackets[1]}"


def _comprehension(e: Call, items: list) -> bool:
    return e.brackets == "[]" and not e.func and len(items) == 1 and isinstance(items[0], Star)


def formatted(e, indent: str, head: str, tail: str, sub) -> list[str]:
    """An expression as ruff format writes it: on one line if it fits, else its brackets split, the
    items on one line inside if they fit, else one a line with a trailing comma."""
    one = f"{indent}{head}{flat(e, sub)}{tail}"
    if len(one) <= LINE or isinstance(e, (str, Hole)):
        return [one]
    if isinstance(e, Kw):
        return formatted(e.value, indent, f"{head}{e.key}=", tail, sub)
    if isinstance(e, Pair):
        return formatted(e.value, indent, f"{head}{e.key}: ", tail, sub)
    inner = indent + "    "
    if isinstance(e, Star):
        item = formatted(e.item, inner, "", "", sub)
        return [f"{indent}{head}*[", *item, f"{inner}for _ in range({e.count})", f"{indent}]{tail}"]
    items = _visible(e, sub)
    if _comprehension(e, items):
        return [
            f"{indent}{head}[",
            *formatted(items[0].item, inner, "", "", sub),
            f"{inner}for _ in range({items[0].count})",
            f"{indent}]{tail}",
        ]
    opening, closing = f"{indent}{head}{e.func}{e.brackets[0]}", f"{indent}{e.brackets[1]}{tail}"
    together = inner + ", ".join(flat(i, sub) for i in items)
    if len(together) <= LINE:
        return [opening, together, closing]
    if len(items) == 1 and isinstance(items[0], Call):
        return [opening, *formatted(items[0], inner, "", "", sub), closing]
    lines = [opening]
    for item in items:
        lines += formatted(item, inner, "", ",", sub)
    return [*lines, closing]


def wrap(line: str, indent: str, tail: str = "") -> list[str]:
    """A generated statement as ruff format writes it: too long, its last bracket pair split (the
    contents on one line if they fit, else one item a line, each split the same way)."""
    if len(indent) + len(line) + len(tail) <= LINE or line[-1:] not in ")]}":
        return [indent + line + tail]
    if line.startswith(" "):  # a loop's body
        return wrap(line.lstrip(" "), indent + " " * (len(line) - len(line.lstrip(" "))), tail)
    import io
    import tokenize

    tokens = [t for t in tokenize.generate_tokens(io.StringIO(line).readline) if t.type == tokenize.OP]
    depth, commas, opening = 0, [], None
    for token in reversed(tokens):
        if token.string in ")]}":
            depth += 1
        elif token.string in "([{":
            depth -= 1
            if depth == 0:
                opening = token.start[1]
                break
        elif token.string == "," and depth == 1:
            commas.append(token.start[1])
    if opening is None:
        return [indent + line + tail]
    head, inner, more = line[: opening + 1], line[opening + 1 : -1], indent + "    "
    if len(more) + len(inner) <= LINE:
        return [indent + head, more + inner, indent + line[-1] + tail]
    bounds = [opening, *sorted(commas), len(line) - 1]
    items = [line[a + 1 : b].strip() for a, b in zip(bounds, bounds[1:])]
    if len(items) == 1:
        return [indent + head, *wrap(items[0], more), indent + line[-1] + tail]
    return [indent + head, *(w for item in items for w in wrap(item, more, ",")), indent + line[-1] + tail]


def holes_of(e):
    if isinstance(e, Hole):
        yield e
    elif isinstance(e, (Kw, Pair)):
        yield from holes_of(e.value)
    elif isinstance(e, Star):
        yield from holes_of(e.item)
    elif isinstance(e, Call):
        for item in e.items:
            yield from holes_of(item)


def literal(hole: Hole) -> str | None:
    return None if hole.default else hole.value
