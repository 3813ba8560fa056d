"""Output of `paramcalc kinds`: the catalogue and one kind in detail. Every text (a kind's doc,
its fields' meanings, its formulas) is shown verbatim: rich gets Text objects, never markup."""

from __future__ import annotations

from .table import Screen, detect_screen, make_console


def _render(parts, screen: Screen) -> str:
    from rich.text import Text

    console = make_console(screen)
    for part in parts:
        console.print(Text(part) if isinstance(part, str) else part)
    text = console.file.getvalue()
    if screen.boxed or screen.color:
        return text
    return "\n".join(line.rstrip() for line in text.splitlines()).strip("\n") + "\n"  # rich's padding gone


def _table(columns, rows, screen: Screen, title: str | None = None):
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(
        title=Text(title, style="bold") if title and screen.boxed else None,
        pad_edge=False,
        box=box.ROUNDED if screen.boxed else box.SIMPLE_HEAD,
    )
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(Text(str(cell)) for cell in row))
    return table


def render_catalogue(catalogue: dict, screen: Screen | None = None) -> str:
    screen = screen or detect_screen()
    rows = []
    for info in catalogue["kinds"]:
        fields = ", ".join(
            f["name"] + ("" if f["default"] == "required" else f"={f['default']}")
            for f in info["fields"]
            if f["counts"]
        )
        rows.append((info["kind"], info["family"], fields, info["doc"].split("\n")[0]))
    return _render(
        [
            _table(("kind", "family", "fields (default)", "meaning"), rows, screen, "layer kinds"),
            "`paramcalc kinds KIND` shows one kind in detail: every field, synonyms and formulas.",
            f"MACs: {catalogue['conventions']['macs']}.",
        ],
        screen,
    )


def render_kind(info: dict, screen: Screen | None = None) -> str:
    screen = screen or detect_screen()
    parts = [f"{info['kind']}  (torch: {info['torch']}, family: {info['family']})", info["doc"]]
    if info["primary"]:
        parts.append(f"A single value sets '{info['primary']}': - {info['kind']}: VALUE  /  -l '{info['kind']}(VALUE)'")
    rows = []
    for f in info["fields"]:
        meaning = f["doc"] + ("" if f["counts"] else " (changes no count)")
        if f.get("choices"):
            meaning += " — one of " + ", ".join(map(str, f["choices"]))
        rows.append((f["name"], f["type"], f["default"], ", ".join(f["aka"]), meaning))
    parts.append(
        _table(("field", "type", "default", "also accepted", "meaning"), rows, screen) if rows else "no fields"
    )
    parts.append("formulas (per sample; MACs are then multiplied by batch):")
    parts += [f"  {what}: {formula}" for what, formula in info["formulas"].items()]
    return _render(parts, screen)


def render_matches(word: str, matches: list[dict], screen: Screen | None = None) -> str:
    """`kinds conv`: every kind the word names part of."""
    screen = screen or detect_screen()
    rows = [(m["kind"], m["family"], m["doc"].split("\n")[0]) for m in matches]
    return _render(
        [
            f"{len(matches)} kinds match '{word}':",
            _table(("kind", "family", "meaning"), rows, screen),
            "`paramcalc kinds KIND` shows one of them in detail.",
        ],
        screen,
    )


def render(data: dict, fmt: str) -> str:
    """`kinds`'s output, table or json: the catalogue, the kinds a word matches, or one kind."""
    if fmt == "json":
        from .json import to_json

        return to_json({"kinds": data["kinds"]} if "word" in data else data)
    if "word" in data:
        return render_matches(data["word"], data["kinds"])
    return render_catalogue(data) if "kinds" in data else render_kind(data)
