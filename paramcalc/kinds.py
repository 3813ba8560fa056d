"""`paramcalc kinds`: the layer registry described for people (table) and tools (JSON)."""

from __future__ import annotations

import inspect

from .errors import SpecError, did_you_mean
from .layers import REGISTRY, family_of, normalize_kind
from .layers.base import REQUIRED
from .report import CONVENTIONS


def _default(value):
    if value is REQUIRED:
        return "required"
    return value


def describe_kind(name: str) -> dict:
    key = normalize_kind(name)
    if key not in REGISTRY:
        from .escape import quote
        raise SpecError(f"unknown layer kind {quote(name)}", hint=did_you_mean(key, REGISTRY) or
                        "`paramcalc kinds` lists every kind")
    cls = REGISTRY[key]
    defaults = cls.defaults()
    return {
        "kind": cls.kind,
        "torch": cls.torch_name,
        "family": family_of(cls),
        "doc": inspect.getdoc(cls) or "",
        "primary": cls.primary,
        "inputs": {"fewest": cls.arity[0], "most": cls.arity[1]},
        "fields": [
            {"name": fname, "type": a.type, "default": _default(defaults[fname]), "aka": list(a.aka),
             "doc": a.doc, "counts": a.counts, **({"choices": list(a.choices)} if a.choices else {})}
            for fname, a in cls.fields().items()
        ],
        "formulas": dict(cls.formulas),
    }


def kind_catalogue() -> dict:
    return {"conventions": CONVENTIONS, "kinds": [describe_kind(k) for k in REGISTRY]}




def render_catalogue() -> str:
    from rich.table import Table
    from .render.table import make_console, tidy
    console, plain = make_console()
    from rich import box
    table = Table(title=None if plain else "layer kinds", pad_edge=False, box=box.SIMPLE_HEAD if plain else box.ROUNDED)
    for column in ("kind", "family", "fields (default)", "meaning"):
        table.add_column(column, overflow="fold")
    for key in REGISTRY:
        info = describe_kind(key)
        fields = ", ".join(
            f"{f['name']}" + ("" if f["default"] == "required" else f"={f['default']}")
            for f in info["fields"] if f["counts"])
        table.add_row(info["kind"], info["family"], fields, info["doc"].split("\n")[0])
    with console.capture() as capture:
        console.print(table)
        console.print("`paramcalc kinds KIND` shows one kind in detail: every field, synonyms and formulas.")
        console.print(f"MACs: {CONVENTIONS['macs']}.")
    return tidy(capture.get(), plain)


def render_kind(name: str) -> str:
    from rich.table import Table
    info = describe_kind(name)
    from .render.table import make_console, tidy
    console, plain = make_console()
    from rich import box
    table = Table(pad_edge=False, box=box.SIMPLE_HEAD if plain else box.ROUNDED)
    for column in ("field", "type", "default", "also accepted", "meaning"):
        table.add_column(column, overflow="fold")
    for f in info["fields"]:
        meaning = f["doc"] + ("" if f["counts"] else " (changes no count)")
        if f.get("choices"):
            meaning += " — one of " + ", ".join(map(str, f["choices"]))
        table.add_row(f["name"], f["type"], str(f["default"]), ", ".join(f["aka"]), meaning)
    with console.capture() as capture:
        console.print(f"{info['kind']}  (torch: {info['torch']}, family: {info['family']})")
        console.print(info["doc"])
        if info["primary"]:
            console.print(f"A single value sets '{info['primary']}': - {info['kind']}: VALUE  /  "
                          f"-l '{info['kind']}(VALUE)'")
        if info["fields"]:
            console.print(table)
        else:
            console.print("no fields")
        console.print("formulas (per sample; MACs are then multiplied by batch):")
        for what, formula in info["formulas"].items():
            console.print(f"  {what}: {formula}")
    return tidy(capture.get(), plain)
