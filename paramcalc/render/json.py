import json


def _dump(value, indent: str) -> str:
    """Indented JSON in which lists of plain values (shapes, names) stay on one line."""
    inner = indent + "  "
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(k)}: {_dump(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{indent}}}"
    if isinstance(value, list) and value and any(isinstance(v, (dict, list)) and v for v in value):
        if all(isinstance(v, list) and not any(isinstance(x, (dict, list)) for x in v) for v in value):
            return json.dumps(value)
        return "[\n" + ",\n".join(inner + _dump(v, inner) for v in value) + f"\n{indent}]"
    text = json.dumps(value, ensure_ascii=False)
    # Valid JSON either way, but a raw DEL, C1 control, U+2028 or bidi override would reach a terminal.
    if text.isascii() and "\x7f" not in text:
        return text
    return "".join(ch if ch == " " or ch.isprintable() else json.dumps(ch)[1:-1] for ch in text)


def to_json(value) -> str:
    return _dump(value, "") + "\n"


def render_json(report) -> str:
    return to_json(report.to_dict())
