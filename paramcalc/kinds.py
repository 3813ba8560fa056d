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
        matches = matching_kinds(name)
        from .escape import quote

        raise SpecError(
            f"unknown layer kind {quote(name)}",
            hint=did_you_mean(key, REGISTRY)
            or ("kinds with that name in them: " + ", ".join(matches) if matches else None)
            or "`paramcalc kinds` lists every kind",
        )
    cls = REGISTRY[key]
    defaults = cls.defaults()
    return {
        "kind": cls.kind,
        "torch": cls.torch_name,
        "family": family_of(cls),
        "doc": kind_doc(cls),
        "primary": cls.primary,
        "inputs": {"fewest": cls.arity[0], "most": cls.arity[1]},
        "fields": [
            {
                "name": fname,
                "type": a.type,
                "default": _default(defaults[fname]),
                "aka": list(a.aka),
                "doc": a.doc,
                "counts": a.counts,
                **({"choices": list(a.choices)} if a.choices else {}),
            }
            for fname, a in cls.fields().items()
        ],
        "formulas": dict(cls.formulas),
    }


def kind_catalogue() -> dict:
    return {"conventions": CONVENTIONS, "kinds": [describe_kind(k) for k in REGISTRY]}


def kind_doc(cls) -> str:
    """The kind's own docstring, or its nearest ancestor's; never the signature dataclasses write
    for a class without one."""
    for klass in cls.__mro__:
        doc = klass.__dict__.get("__doc__")
        if doc and not doc.startswith(klass.__name__ + "("):
            return inspect.cleandoc(doc)
    return ""


def matching_kinds(word: str) -> list[str]:
    """Kinds whose name contains the word (`conv`: conv1d/2d/3d, convtranspose1d/2d/3d)."""
    key = normalize_kind(word)
    return [k for k in REGISTRY if key and key in k] if len(key) >= 2 else []
