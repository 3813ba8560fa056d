"""Names in the generated code: which spec names can be attributes (`plain`), which names torch or the
code itself holds (RESERVED, GLOBALS), identifiers and class names made from any text, and the error
that refuses a name."""

from __future__ import annotations

import keyword
import re

from ..errors import SpecError

RESERVED = frozenset(
    """
    T_destination add_module apply bfloat16 buffers call_super_init children clear compile cpu cuda double
    dump_patches eval extra_repr float forward get_buffer get_extra_state get_parameter get_submodule half
    ipu items keys load_state_dict modules mtia named_buffers named_children named_modules named_parameters
    parameters pop register_backward_hook register_buffer register_forward_hook register_forward_pre_hook
    register_full_backward_hook register_full_backward_pre_hook register_load_state_dict_post_hook
    register_load_state_dict_pre_hook register_module register_parameter register_state_dict_post_hook
    register_state_dict_pre_hook requires_grad_ set_extra_state set_submodule share_memory state_dict to
    to_empty train training type update values xpu zero_grad
""".split()
)

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def plain(name: str) -> bool:
    """Usable as `obj.name` in generated code: ASCII (no NFKC surprises) and not a keyword."""
    return bool(_IDENTIFIER.match(name)) and not keyword.iskeyword(name)


# Names the generated code reads (its module-level names, the builtins it calls, the comprehension's
# `_`): no local variable or constructor argument takes one.
GLOBALS = frozenset(
    {
        "self",
        "torch",
        "nn",
        "build_model",
        "example_inputs",
        "named_sequential",
        "super",
        "getattr",
        "float",
        "range",
        "_",
    }
)


def refuse(message: str, node=None) -> SpecError:
    return SpecError(
        f"cannot export to PyTorch: {message}", node.loc if node else None, layer=node.label if node else None
    )


def identifier(text: str, fallback: str) -> str:
    """A Python identifier from any text (ASCII letters, digits and _)."""
    base = re.sub(r"\W|^(?=\d)", "_", text.replace(".", "_"), flags=re.ASCII) or fallback
    return base if plain(base) else base + "_"


def camel(text: str, fallback: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", text, flags=re.ASCII)
    name = "".join(w[:1].upper() + w[1:] for w in words)[:60] or fallback
    return fallback + name if name[0].isdigit() else name
