"""A PyTorch model -> a paramcalc spec (YAML text). Needs torch, imported only when called.

The model is traced with torch.fx: every leaf module call, parameter read and tensor operation becomes
a layer named by its module path (`layer1.0.conv1`), with `from:` where the flow branches. A module
called twice shares its weight with its first call (`tie:`). When fx cannot trace the model
(data-dependent control flow), forward hooks on the leaf modules record the calls instead: the
parameters and shapes of every module are still exact, but the tensor operations between modules
(additions, concatenations) are not seen, so each layer reads the latest output of its input's shape.
"""

from __future__ import annotations

import importlib
import importlib.util
import operator
import sys
from pathlib import Path
from typing import Any

from ..errors import Loc, SpecError
from ..layers import REGISTRY
from ..spec import parse_shape

INSTALL_HINT = "this command needs PyTorch: pip install 'paramcalc[torch]'"


def need_torch():
    try:
        import torch
    except ImportError:
        raise SpecError(INSTALL_HINT) from None
    return torch


def load_factory(target: str):
    """MODULE:FACTORY (a dotted module or a .py file) -> the model it builds."""
    module_name, sep, factory_name = target.rpartition(":")
    if not sep or not module_name or not factory_name:
        raise SpecError(
            f"expected MODULE:FACTORY (e.g. torchvision.models:resnet18 or models.py:build), found {target!r}"
        )
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            if not path.is_file():
                raise SpecError(f"{module_name}: no such file")
            spec = importlib.util.spec_from_file_location(path.stem, path)
            if spec is None or spec.loader is None:
                raise SpecError(f"{module_name}: cannot be imported as a Python module")
            module = importlib.util.module_from_spec(spec)
            sys.modules.setdefault(path.stem, module)
            spec.loader.exec_module(module)
        else:
            sys.path.insert(0, ".")
            try:
                module = importlib.import_module(module_name)
            finally:
                sys.path.remove(".")
    except SpecError:
        raise
    except Exception as e:  # the user's code: any failure is bad input, reported in one line
        raise SpecError(f"cannot import {module_name}: {type(e).__name__}: {e}") from None
    factory = getattr(module, factory_name, None)
    if not callable(factory):
        raise SpecError(f"{module_name} has no callable {factory_name!r}")
    try:
        model = factory()
    except Exception as e:
        raise SpecError(f"{target}() failed: {type(e).__name__}: {e}") from None
    torch = need_torch()
    if not isinstance(model, torch.nn.Module):
        raise SpecError(f"{target}() returned {type(model).__name__}, not a torch.nn.Module")
    return model.eval()


def example_inputs(shapes, tokens: int | None):
    torch = need_torch()
    if tokens:
        return [torch.randint(0, tokens, (1, *s)) for s in shapes]
    return [torch.randn(1, *s) for s in shapes]


def parse_shapes(text: str) -> list[tuple[int, ...]]:
    """`3x224x224`, or several inputs separated by `;`."""
    return [parse_shape(part.strip(), Loc("-i/--input", 0, 0)) for part in text.split(";")]


# ---------------------------------------------------------------- a module -> a kind and its fields


def module_layer(module) -> dict | None:
    """{kind: fields} for a leaf module paramcalc knows, else None."""
    # the class or its nearest torch.nn base (NonDynamicallyQuantizableLinear is a Linear)
    base: type[Any] | None = next((c for c in type(module).__mro__ if c.__name__.lower() in REGISTRY), None)
    if base is None or base.__name__.lower() == "parameter" or type(module).forward is not base.forward:
        return None  # unknown, or a subclass computing something else (LayerNorm2d)
    kind = base.__name__.lower()
    cls = REGISTRY[kind]
    fields = {}
    defaults = cls.defaults()
    for name, arg in cls.fields().items():
        if name in ("device", "dtype") or not arg.counts and name not in ("eps", "p", "approximate", "mode"):
            continue
        value = _attribute(module, name, arg)
        if value is _MISSING or value is None:
            continue
        if isinstance(value, tuple):
            value = list(value)
            if len(set(value)) == 1 and arg.type in ("size", "padding", "optional_size"):
                value = value[0]
        default = defaults[name]
        if value == default or (isinstance(value, list) and default is not None and value == [default] * len(value)):
            continue
        if isinstance(value, (bool, int, float, str)) or (
            isinstance(value, list) and all(v is None or isinstance(v, (int, float)) for v in value)
        ):
            fields[name] = value
    return {kind: fields}


_MISSING = object()


def _attribute(module, name, arg):
    if name == "bias" and hasattr(module, "in_proj_bias"):  # MultiheadAttention
        return module.in_proj_bias is not None
    if name == "add_bias_kv":
        return getattr(module, "bias_k", None) is not None
    if name == "bias":
        value = getattr(module, "bias", _MISSING)
        return value if isinstance(value, bool) or value is _MISSING else value is not None
    for attribute in (name, *arg.aka):
        if hasattr(module, attribute):
            value = getattr(module, attribute)
            return tuple(value) if isinstance(value, list) else value
    return _MISSING


# ---------------------------------------------------------------- tracing with torch.fx


class _Unsupported(Exception):
    pass


def _per_sample(meta) -> list[int] | None:
    shape = getattr(meta, "shape", None)
    return list(shape[1:]) if shape is not None and len(shape) >= 1 else None


def trace_fx(model, inputs) -> tuple[dict, list, list]:
    """(spec inputs, entries) from an fx trace; raises _Unsupported for what a spec cannot express."""
    import torch
    import torch.fx
    from torch.fx.passes.shape_prop import ShapeProp

    try:
        graph_module = torch.fx.symbolic_trace(model)
        ShapeProp(graph_module).propagate(*inputs)
    except Exception as e:
        raise _Unsupported(f"torch.fx cannot trace it ({type(e).__name__}: {str(e).splitlines()[0][:200]})") from e
    modules = dict(graph_module.named_modules())
    names: dict = {}  # fx node -> the spec name whose output it is
    used: set[str] = set()
    first_call: dict[str, str] = {}
    spec_inputs, entries = {}, []
    previous = None

    def unique(base):
        name, n = base, 1
        while name in used:
            n += 1
            name = f"{base}_{n}"
        used.add(name)
        return name

    def source(arg):
        if isinstance(arg, torch.fx.Node):
            if arg not in names:
                raise _Unsupported(f"'{arg.name}' is not a tensor the spec can name")
            return names[arg]
        raise _Unsupported(f"an argument {arg!r} where a tensor was expected")

    def add(node, base, layer, sources):
        nonlocal previous
        name = unique(base)
        entry = dict(layer)
        ((kind, fields),) = entry.items()
        fields = dict(fields)
        if sources != [previous] and sources:
            fields["from"] = sources if len(sources) > 1 else sources[0]
        fields["name"] = name
        entries.append({kind: fields})
        names[node] = name
        previous = name
        return name

    for node in graph_module.graph.nodes:
        meta = node.meta.get("tensor_meta")
        if node.op == "placeholder":
            shape = _per_sample(meta)
            if shape is None:
                raise _Unsupported(f"input '{node.name}' is not a tensor")
            spec_inputs[node.name] = shape
            names[node] = node.name
            used.add(node.name)
            previous = node.name
        elif node.op == "call_module":
            module = modules[node.target]
            layer = module_layer(module)
            if layer is None:
                raise _Unsupported(f"module '{node.target}' ({type(module).__name__}) has no paramcalc kind")
            args = [a for a in node.args if isinstance(a, torch.fx.Node)]
            sources = [source(a) for a in args]
            kind = next(iter(layer))
            if REGISTRY[kind].arity == (1, 1):
                sources = sources[:1]
            owner = _weight_owner(module, kind, first_call)
            if owner:
                layer[kind]["tie"] = owner
            name = add(node, node.target, layer, sources)
            _own_weight(module, kind, first_call, name)
        elif node.op == "get_attr":
            value = _fetch(graph_module, node.target)
            if not isinstance(value, torch.Tensor):
                raise _Unsupported(f"'{node.target}' is not a tensor")
            shape = list(value.shape[1:]) if value.ndim > 1 and value.shape[0] == 1 else list(value.shape)
            layer = {"parameter": {"shape": shape}}
            if not value.requires_grad or not isinstance(value, torch.nn.Parameter):
                layer["parameter"]["requires_grad"] = False
            saved = previous
            add(node, node.target, layer, [])
            previous = saved  # a parameter leaves the flow where it was
        elif node.op in ("call_function", "call_method"):
            _operation(node, meta, names, source, add, previous)
        elif node.op == "output":
            out = node.args[0]
            outs = out if isinstance(out, (tuple, list)) else [out]
            if not outs or not all(isinstance(o, torch.fx.Node) and o in names for o in outs):
                raise _Unsupported("the model's output is not a tensor (or a tuple of tensors) the spec can name")
            return spec_inputs, entries, [names[o] for o in outs]
    raise _Unsupported("the traced graph has no output")


def _fetch(module, target):
    for part in target.split("."):
        module = getattr(module, part)
    return module


def _operation(node, meta, names, source, add, previous):
    """A call_function / call_method node -> a layer, or an alias of its input (shape-only views)."""
    import torch
    import torch.nn.functional as F

    fn, args, kwargs = node.target, node.args, node.kwargs
    tensors = [a for a in args if isinstance(a, torch.fx.Node) and a in names]  # not sizes
    out = _per_sample(meta)

    def alias():
        names[node] = source(tensors[0])

    if out is None:
        return None  # shape queries (x.shape, size()) and checks compute no tensor

    def layer(kind, **fields):
        add(node, node.name, {kind: fields}, [source(t) for t in tensors])

    if fn in (operator.getitem,) and tensors and tensors[0] in names:
        index = args[1]
        producer = tensors[0]
        if producer.meta.get("tensor_meta") is None or not hasattr(producer.meta.get("tensor_meta"), "shape"):
            if index == 0:  # the output of a module that returns a tuple (attention, LSTM)
                return alias()
            raise _Unsupported(f"'{node.name}' takes part {index!r} of a tuple")
        if (
            isinstance(index, tuple)
            and sum(isinstance(i, int) for i in index) == 1
            and all(isinstance(i, int) or i == slice(None) for i in index)
        ):
            dim = next(d for d, i in enumerate(index) if isinstance(i, int))
            return layer("select", dim=dim, index=index[dim])
        raise _Unsupported(f"'{node.name}' indexes a tensor with {index!r}")
    if fn in (operator.add, operator.iadd, torch.add, "add", "add_"):
        if len(tensors) == 2 and len(args) == 2:
            if _per_sample(tensors[0].meta.get("tensor_meta")) != _per_sample(tensors[1].meta.get("tensor_meta")):
                raise _Unsupported(f"'{node.name}' adds tensors of different shapes (broadcasting)")
            return layer("add")
        raise _Unsupported(f"'{node.name}' adds a constant")
    if fn in (operator.mul, operator.imul, torch.mul, "mul", "mul_"):
        if len(tensors) == 2 and len(args) == 2:
            return layer("mul")
        factor = [a for a in args if a not in tensors]
        if len(tensors) == 1 and len(factor) == 1 and type(factor[0]) in (int, float):  # q * head_dim ** -0.5
            return layer("scale", by=factor[0])
        raise _Unsupported(f"'{node.name}' multiplies by a constant that is not a number")
    if fn is torch.cat:
        seq = args[0]
        dim = args[1] if len(args) > 1 else kwargs.get("dim", 0)
        if len(seq) == 1:
            names[node] = source(seq[0])  # torch.cat of one tensor is that tensor
            return None
        add(node, node.name, {"concat": {"dim": dim}}, [source(t) for t in seq])
        return None
    if fn in (torch.flatten, "flatten"):
        start = args[1] if len(args) > 1 else kwargs.get("start_dim", 0)
        end = args[2] if len(args) > 2 else kwargs.get("end_dim", -1)
        if start == 0:
            raise _Unsupported(f"'{node.name}' flattens the batch dimension")
        return layer("flatten", start_dim=start, end_dim=end)
    if fn in ("view", "reshape", torch.reshape):
        return layer("reshape", shape=out)
    if fn in ("permute", torch.permute):
        dims = args[1:] if fn == "permute" and not isinstance(args[1], (tuple, list)) else args[1]
        return layer("permute", dims=list(dims))
    if fn in ("transpose", torch.transpose):
        return layer("transpose", dim0=args[1], dim1=args[2])
    if fn in ("expand", "contiguous", "clone", "detach", "to", "type_as", "float"):
        return alias()  # values or batch shape only: the per-sample shape is kept
    if fn in ("mean", torch.mean):
        dim = args[1] if len(args) > 1 else kwargs.get("dim")
        return layer(
            "mean",
            dim=list(dim) if isinstance(dim, (tuple, list)) else dim,
            keepdim=bool(args[2] if len(args) > 2 else kwargs.get("keepdim", False)),
        )
    if fn in ("unsqueeze", torch.unsqueeze):
        return layer("unsqueeze", dim=args[1])
    if fn in ("squeeze", torch.squeeze) and len(args) > 1:
        return layer("squeeze", dim=args[1])
    if getattr(fn, "__name__", "") == "stochastic_depth":  # torchvision.ops, wrapped for fx
        p = args[1] if len(args) > 1 else kwargs.get("p", 0.0)
        mode = args[2] if len(args) > 2 else kwargs.get("mode", "row")
        return add(node, node.name, {"stochasticdepth": {"p": p, "mode": mode}}, [source(tensors[0])])
    simple = {
        F.relu: "relu",
        torch.relu: "relu",
        "relu": "relu",
        F.gelu: "gelu",
        torch.sigmoid: "sigmoid",
        "sigmoid": "sigmoid",
        torch.tanh: "tanh",
        "tanh": "tanh",
        F.silu: "silu",
        F.hardswish: "hardswish",
        F.hardsigmoid: "hardsigmoid",
        F.relu6: "relu6",
        F.dropout: "dropout",
    }
    if fn in simple:
        return layer(simple[fn])
    if fn in (F.adaptive_avg_pool2d,):
        size = args[1] if len(args) > 1 else kwargs["output_size"]
        return layer("adaptiveavgpool2d", out=list(size) if isinstance(size, (tuple, list)) else size)
    if fn in (getattr, "size", "dim") or (callable(fn) and getattr(fn, "__name__", "") in ("_assert", "getattr")):
        return None  # shape queries and checks compute no tensor
    what = fn if isinstance(fn, str) else getattr(fn, "__name__", repr(fn))
    raise _Unsupported(f"operation '{what}' ({node.name}) has no paramcalc kind")


def _weight_owner(module, kind, owners) -> str | None:
    """The layer that already holds this module's weight (the same module called again, or a module
    sharing the tensor, as a tied output head does): the spec says `tie:`."""
    weight = getattr(module, "weight", None)
    if weight is None or not hasattr(REGISTRY[kind], "weight_shape"):
        return None
    return owners.get(id(weight))


def _own_weight(module, kind, owners, name):
    weight = getattr(module, "weight", None)
    if weight is not None and hasattr(REGISTRY[kind], "weight_shape"):
        owners.setdefault(id(weight), name)


# ---------------------------------------------------------------- the hook fallback


def trace_hooks(model, inputs) -> tuple[dict, list, list]:
    import torch

    calls = []

    def record(name):
        def hook(module, args, output):
            out = output[0] if isinstance(output, (tuple, list)) else output
            ins = [a for a in args if isinstance(a, torch.Tensor)]
            if isinstance(out, torch.Tensor):
                calls.append((name, module, [list(a.shape[1:]) for a in ins], list(out.shape[1:])))

        return hook

    leaves, inside = [], ()
    for name, m in model.named_modules():  # parents come before their children
        if not name or (inside and name.startswith(inside)):
            continue
        if module_layer(m) is not None:  # a known kind is one layer, whatever it holds (attention)
            leaves.append((name, m))
            inside = tuple(prefix for prefix in (*inside, name + ".") if prefix)
        elif not any(True for _ in m.children()):
            leaves.append((name, m))
    unknown = sorted({type(m).__name__ for _, m in leaves if module_layer(m) is None})
    if unknown:
        raise SpecError(
            f"cannot import: torch.fx cannot trace this model, and these modules have no paramcalc "
            f"kind: {', '.join(unknown)}"
        )
    handles = [m.register_forward_hook(record(name)) for name, m in leaves]
    try:
        with torch.no_grad():
            model(*inputs)
    except Exception as e:
        raise SpecError(f"the model's forward failed: {type(e).__name__}: {e}") from None
    finally:
        for h in handles:
            h.remove()
    spec_inputs = {f"input{i}" if len(inputs) > 1 else "input": list(x.shape[1:]) for i, x in enumerate(inputs)}
    produced = [(name, shape) for name, shape in spec_inputs.items()]
    entries, used = [], set(spec_inputs)
    first_call: dict[int, str] = {}
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
                    f"cannot import: '{name}' reads a {in_shapes[0]} tensor that no module made "
                    f"(a functional operation fx could not trace)"
                )
            if source != previous:
                fields["from"] = source
        owner = _weight_owner(module, kind, first_call)
        if owner:
            fields["tie"] = owner
        _own_weight(module, kind, first_call, unique)
        fields["name"] = unique
        entries.append({kind: fields})
        produced.append((unique, out_shape))
        previous = unique
    if not entries:
        raise SpecError("cannot import: the model called no module")
    return spec_inputs, entries, [previous]


# ---------------------------------------------------------------- entry point


def spec_from_model(model, shapes, tokens: int | None = None, name: str = "model") -> tuple[dict, str]:
    """(spec document, how it was traced: "fx" or "hooks")."""
    inputs = example_inputs(shapes, tokens)
    try:
        spec_inputs, entries, outputs = trace_fx(model, inputs)
        how = "fx"
    except _Unsupported as e:
        reason = str(e)
        spec_inputs, entries, outputs = trace_hooks(model, inputs)
        how = f"hooks ({reason})"
    doc: dict = {"name": name}
    if len(spec_inputs) == 1:
        doc["input"] = next(iter(spec_inputs.values()))
        renamed = next(iter(spec_inputs))
        for entry in entries:
            fields = next(iter(entry.values()))
            if fields.get("from") == renamed:
                fields["from"] = "input"
            elif isinstance(fields.get("from"), list):
                fields["from"] = ["input" if f == renamed else f for f in fields["from"]]
    else:
        doc["inputs"] = spec_inputs
    if len(outputs) > 1 or outputs[0] != next(iter(entries[-1].values()))["name"]:
        doc["outputs"] = outputs
    doc["layers"] = entries
    return doc, how


def import_torch(target: str, input_shape: str, tokens: int | None = None) -> str:
    import yaml

    need_torch()
    shapes = parse_shapes(input_shape)
    model = load_factory(target)
    name = target.rpartition(":")[2]
    doc, how = spec_from_model(model, shapes, tokens, name)
    header = (
        f"# Imported by paramcalc from {target!r} (traced with {'torch.fx' if how == 'fx' else 'module hooks'}).\n"
        "# Names are the model's module paths.\n"
    )
    if how != "fx":
        header += (
            "# torch.fx could not trace it, so forward hooks recorded the module calls: operations between\n"
            "# modules (additions, concatenations) are not in this spec; params and buffers are exact.\n"
        )
    return header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, default_flow_style=None, width=110)
