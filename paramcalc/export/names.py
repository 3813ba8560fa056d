"""Names in the generated code: which spec names can be attributes (`plain`), which names torch or the
code itself holds (RESERVED, GLOBALS), identifiers and class names made from any text, and the error
that refuses a name."""

from __future__ import annotations

import keyword
import re

from ..errors import SpecError

# Attributes of nn.Module, nn.ModuleDict, nn.Sequential and nn.ModuleList (torch 2.13; a test checks
# them against the installed torch): a child with one of these names cannot be registered (torch raises
# "attribute already exists", or the module breaks), so it is refused up front with a clear message.
# Dunder names (`__class__`) are refused by their form.
RESERVED = frozenset(
    """
    T_destination add_module append apply bfloat16 buffers call_super_init children clear compile cpu cuda double
    dump_patches eval extra_repr float forward get_buffer get_extra_state get_parameter get_submodule half
    ipu items keys load_state_dict modules mtia named_buffers named_children named_modules named_parameters
    parameters pop register_backward_hook register_buffer register_forward_hook register_forward_pre_hook
    register_full_backward_hook register_full_backward_pre_hook register_load_state_dict_post_hook
    register_load_state_dict_pre_hook register_module register_parameter register_state_dict_post_hook
    register_state_dict_pre_hook requires_grad_ set_extra_state set_submodule share_memory state_dict to
    to_empty train training type update values xpu zero_grad extend insert
    _apply _backward_hooks _backward_pre_hooks _buffers _call_impl _compiled_call_impl _forward_hooks
    _forward_hooks_always_called _forward_hooks_with_kwargs _forward_pre_hooks _forward_pre_hooks_with_kwargs
    _get_abs_string_index _get_backward_hooks _get_backward_pre_hooks _get_item_by_idx _get_name
    _is_full_backward_hook _load_from_state_dict _load_state_dict_post_hooks _load_state_dict_pre_hooks
    _maybe_warn_non_full_backward_hook _modules _named_members _non_persistent_buffers_set _parameters
    _register_load_state_dict_pre_hook _register_state_dict_hook _replicate_for_data_parallel
    _save_to_state_dict _slow_forward _state_dict_hooks _state_dict_pre_hooks _version _wrapped_call_impl
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
    """A class name from any text: its ASCII words capitalised and joined (`double_conv` -> DoubleConv)."""
    words = re.findall(r"[A-Za-z0-9]+", text, flags=re.ASCII)
    name = "".join(w[:1].upper() + w[1:] for w in words)[:60] or fallback
    if keyword.iskeyword(name):  # a block named `none` would be `class None(...)`
        return name + "_"
    return fallback + name if name[0].isdigit() else name
