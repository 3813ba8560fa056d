"""The fallback where neither torch.fx nor torch.export gives a graph: forward hooks on the leaf modules
record the calls. Parameters and shapes of every module are exact, but the tensor operations between
modules (additions, concatenations) are not seen, so each layer reads the latest output of its input's
shape; the guard then compares the spec's totals and output shape with the model's."""

from __future__ import annotations

from ...errors import SpecError
from .modules import module_layer, own_weight, weight_owner


def trace_hooks(model, inputs, reason: str) -> tuple[dict, list, list]:
    """(spec inputs, entries, outputs) from the module calls; `reason` says why no graph was traced."""
    leaves = _leaves(model)
    unknown = sorted({f"{type(m).__name__} ('{name}')" for name, m in leaves if module_layer(m) is None})
    if unknown:
        raise SpecError(
            f"cannot import: {reason}; and module hooks cannot stand in, as these modules have no paramcalc "
            f"kind: {', '.join(unknown[:8])}{' ...' if len(unknown) > 8 else ''}"
        )
    calls = _record(model, inputs, leaves)
    spec_inputs = {f"input{i}" if len(inputs) > 1 else "input": list(x.shape[1:]) for i, x in enumerate(inputs)}
    entries, last = _write(spec_inputs, calls, reason)
    _declare_uncalled(model, calls, entries)
    return spec_inputs, entries, [last]


def _leaves(model) -> list:
    """The modules hooks record: each with a kind (whatever it holds: attention), each without children,
    and each holding tensors of its own beside its children (timm's BatchNormAct2d), which then needs a
    kind of its own: its tensors are no child's."""
    leaves, inside = [], ()
    for name, m in model.named_modules():  # parents come before their children
        if not name or (inside and name.startswith(inside)):
            continue
        own = any(True for _ in m.parameters(recurse=False)) or any(True for _ in m.buffers(recurse=False))
        if module_layer(m) is not None or own:
            leaves.append((name, m))
            inside = tuple(prefix for prefix in (*inside, name + ".") if prefix)
        elif not any(True for _ in m.children()):
            leaves.append((name, m))
    return leaves


def _record(model, inputs, leaves) -> list:
    import torch

    calls = []

    def record(name):
        def hook(module, args, output):
            out = output[0] if isinstance(output, (tuple, list)) else output
            ins = [a for a in args if isinstance(a, torch.Tensor)]
            if isinstance(out, torch.Tensor):
                calls.append((name, module, [list(a.shape[1:]) for a in ins], list(out.shape[1:])))

        return hook

    handles = [m.register_forward_hook(record(name)) for name, m in leaves]
    try:
        with torch.no_grad():
            model(*inputs)
    except Exception as e:
        raise SpecError(f"the model's forward failed: {type(e).__name__}: {e}") from None
    finally:
        for h in handles:
            h.remove()
    return calls


def _write(spec_inputs: dict, calls: list, reason: str) -> tuple[list, str]:
    produced = list(spec_inputs.items())
    entries, used = [], set(spec_inputs)
    first_call: dict[int, str] = {}
    called: set[int] = set()
    previous = produced[-1][0]
    for name, module, in_shapes, out_shape in calls:
        layer = module_layer(module)
        assert layer is not None  # every leaf without a kind was refused above
        kind = next(iter(layer))
        fields = dict(layer[kind])
        unique, n = name, 1
        while unique in used:
            n += 1
            unique = f"{name}_{n}"
        used.add(unique)
        if in_shapes:
            # the latest layer (or input) whose output has this shape
            source = next((p for p, s in reversed(produced) if s == in_shapes[0]), None)
            if source is None:
                raise SpecError(
                    f"cannot import: {reason}; and with module hooks '{name}' reads a {in_shapes[0]} tensor "
                    "that no module made (a functional operation between modules)"
                )
            if source != previous:
                fields["from"] = source
        owner = weight_owner(module, kind, first_call)
        if owner:
            fields["tie"] = owner
        elif id(module) in called and any(True for _ in module.parameters()):
            raise SpecError(
                f"cannot import: {reason}; and with module hooks '{name}' ({type(module).__name__}) is called "
                f"again, and a {kind} cannot share its tensors with its first call"
            )
        called.add(id(module))
        own_weight(module, kind, first_call, unique)
        fields["name"] = unique
        entries.append({kind: fields})
        produced.append((unique, out_shape))
        previous = unique
    if not entries:
        raise SpecError(f"cannot import: {reason}; and the model called no module hooks can see")
    return entries, previous


def _declare_uncalled(model, calls, entries) -> None:
    """Tensors of modules the forward never called (an auxiliary head), declared by name as fx does."""
    from .fx import declared

    seen = {id(t) for _, module, _, _ in calls for t in (*module.parameters(), *module.buffers())}
    for path, tensor in (*model.named_parameters(), *model.named_buffers()):
        if id(tensor) not in seen:
            seen.add(id(tensor))
            kind, fields = declared(tensor, 0)
            entries.append({kind: {**fields, "name": path}})
