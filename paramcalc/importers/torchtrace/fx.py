"""A torch.fx graph -> spec entries. Every leaf module call, parameter read and tensor operation becomes
a layer named by its module path (`layer1.0.conv1`), with `from:` where the flow branches. fx stops at
every module paramcalc has a kind for."""

from __future__ import annotations

import contextlib
import io

from ...layers import REGISTRY
from . import Unsupported
from .modules import module_layer, own_weight, weight_owner


def _leaf_tracer(model):
    import torch.fx

    # found before tracing: reading a module's attributes while fx traces records them in the graph
    kinds = {id(m) for m in model.modules() if module_layer(m) is not None}

    class Tracer(torch.fx.Tracer):
        """Stops at every module paramcalc has a kind for: torchvision's LayerNorm2d, Permute or
        StochasticDepth are not torch.nn modules, which plain fx traces into."""

        proxy_buffer_attributes = True  # a buffer is read by name (get_attr), not baked in as a constant

        def is_leaf_module(self, m, module_qualified_name):
            return id(m) in kinds or super().is_leaf_module(m, module_qualified_name)

    return Tracer()


class FxSpec:
    """The spec written from one fx graph. Every tensor node the spec holds has a name; its per-sample
    shape is its traced shape without its first `lead` dims: 1 for the batch (or a parameter's leading 1
    that broadcasts over it, as a class token's), 0 for a tensor built from parameters and buffers alone
    (Swin V2's position-bias table), whose dims then count from 1 in the spec."""

    def __init__(self, model, graph_module) -> None:
        self.model = model
        self.modules = dict(graph_module.named_modules())
        self.graph_module = graph_module
        self.names: dict = {}  # fx node -> the spec name whose output it is
        self.lead: dict = {}
        self.batched: set = set()  # nodes that carry the input's batch
        self.pending: dict = {}  # get_attr nodes, written when first read as a tensor
        self.held: dict = {}  # get_attr nodes a layer holds (read again: a tied weight)
        self.ranges: dict = {}  # node -> start: it holds start, start + 1, ... (positions; torch.export's)
        self.opaque: set = set()  # computed from parameters alone by what the spec cannot express
        self.folded: set = set()  # the batch folded into dim 0 (windows): per-sample shape is the full shape
        self.moved: dict = {}  # node -> where a permute moved its batch dim (attention's qkv: (3, B, ...))
        self.splits: dict = {}  # chunk/split/unbind nodes -> (kind, fields, source node)
        self.used: set[str] = set()
        self.owners: dict = {}  # id(weight) -> the layer holding it
        self.accounted: set[int] = set()  # ids of the model's tensors some layer counts
        self.tensors = {id(t) for t in (*model.parameters(), *model.buffers())}
        self.spec_inputs: dict = {}
        self.entries: list = []
        self.previous: str | None = None
        self.handlers: dict = {}  # operations by name before ops.py's (ATen's, on the torch.export path)

    # -- bookkeeping

    def unique(self, base: str) -> str:
        name, n = base, 1
        while name in self.used:
            n += 1
            name = f"{base}_{n}"
        self.used.add(name)
        return name

    def full(self, node) -> list[int] | None:
        shape = getattr(node.meta.get("tensor_meta"), "shape", None)
        return list(shape) if shape is not None else None

    def shape(self, node) -> list[int]:
        full = self.full(node)
        assert full is not None
        if node in self.moved:
            return full[: self.moved[node]] + full[self.moved[node] + 1 :]
        return full[self.lead.get(node, 1) :]

    def holds(self, arg) -> bool:
        import torch.fx

        return isinstance(arg, torch.fx.Node) and (arg in self.names or arg in self.pending)

    def source(self, arg) -> str:
        import torch.fx

        if not isinstance(arg, torch.fx.Node):
            raise Unsupported(f"an argument {arg!r} where a tensor was expected")
        if arg in self.pending:
            self.declare(arg)
        if arg in self.opaque:
            raise Unsupported(f"a layer reads '{arg.name}', computed from constants alone (a position encoding)")
        if arg not in self.names:
            raise Unsupported(f"'{arg.name}' is not a tensor the spec can name")
        return self.names[arg]

    def add(self, node, base: str, kind: str, fields: dict, sources: list[str]) -> str:
        """Appends a layer (a layer without `from:` reads the one before it, a declared tensor aside)."""
        name = self.unique(base)
        fields = {key: _plain(value) for key, value in fields.items()}
        if sources and sources != [self.previous]:
            fields["from"] = sources if len(sources) > 1 else sources[0]
        fields["name"] = name
        self.entries.append({kind: fields})
        if node is not None:
            self.names[node] = name
        if kind not in ("parameter", "buffer"):  # a declared tensor leaves the flow where it was
            self.previous = name
        return name

    def module_path(self, node) -> str | None:
        return None  # fx calls modules by name (call_module); torch.export records them per node

    def account(self, path: str) -> None:
        """A tensor of the model a layer counts though no node reads it."""

    def path(self, node) -> str:
        """The model's name for a parameter or buffer node."""
        return node.target

    def declare(self, node) -> str:
        """A parameter or buffer read by name (a class token, a layer scale, Swin's index buffer)."""
        value = self.pending.pop(node)
        self.accounted.add(id(value))
        return self.add(node, self.path(node), *declared(value, self.lead[node]), [])

    def fold(self, *nodes) -> None:
        """Tensors a layer written here holds itself (Swin's qkv and proj weights, a lookup table)."""
        for node in nodes:
            if node is not None and node in self.pending:
                self.held[node] = self.pending.pop(node)
                self.accounted.add(id(self.held[node]))

    def lookup(self, node, table, index) -> str:
        """table[index], a learned (rows, dim) table read at an index buffer: an embedding holding it."""
        weights = self.pending[table]
        self.fold(table)
        fields = {"num": weights.shape[0], "dim": weights.shape[1]}
        name = self.add(node, self.path(table), "embedding", fields, [self.source(index)])
        self.owners.setdefault(id(weights), name)
        return name

    def dim(self, node, d: int) -> int:
        """A dim of the traced tensor -> the spec's (batch = 0)."""
        if node in self.moved:
            batch = self.moved[node]
            if d == batch:
                raise Unsupported(f"'{node.name}' is split or indexed along its batch dimension")
            return d + 1 if 0 <= d < batch else d
        return d if d < 0 else d + 1 - self.lead.get(node, 1)

    def taken(self, node, of, d: int, removes: bool) -> None:
        """Where the batch is in a part taken along traced dim d of a tensor whose batch was moved."""
        if of not in self.moved:
            return
        batch = self.moved[of]
        d %= len(self.full(of) or [0])
        batch -= 1 if removes and d < batch else 0
        if batch:
            self.moved[node] = batch

    def alias(self, node, of) -> None:
        self.names[node] = self.source(of)
        self.lead[node] = self.lead.get(of, 1)
        if of in self.moved:
            self.moved[node] = self.moved[of]
        if of in self.batched:
            self.batched.add(node)

    # -- the graph

    def operation(self, node) -> None:
        from .ops import operation

        operation(self, node)

    def trace(self) -> tuple[dict, list, list]:
        for node in self.graph_module.graph.nodes:
            self.place(node)
            if node.op == "placeholder":
                self.placeholder(node)
            elif node.op == "call_module":
                self.call_module(node)
            elif node.op == "get_attr" and node.users:
                self.get_attr(node)
            elif node.op in ("call_function", "call_method"):
                self.operation(node)
            elif node.op == "output":
                return self.output(node)
        raise Unsupported("the traced graph has no output")

    def place(self, node) -> None:
        """Whether the node carries the batch, and its per-sample shape's lead: what carries the batch (or
        a leading 1 that broadcasts) drops dim 0; what a window partition folded the batch into keeps it."""
        inputs = [self.splits[a][2] if a in self.splits else a for a in node.all_input_nodes]  # a piece: its whole
        tensors = [a for a in inputs if a in self.names or a in self.pending]
        if any(a in self.batched for a in node.all_input_nodes):
            self.batched.add(node)
        lead_in = self.lead.get(tensors[0], 1) if tensors else 1
        full = self.full(node)
        if full and full[0] != 1 and any(a in self.folded for a in tensors):
            self.folded.add(node)
            self.lead[node] = 0
            return
        self.lead[node] = 1 if node in self.batched or (lead_in and full and full[0] == 1) else 0

    def placeholder(self, node) -> None:
        full = self.full(node)
        if full is None:
            raise Unsupported(f"input '{node.name}' is not a tensor")
        self.spec_inputs[node.name] = full[1:]
        self.names[node] = node.name
        self.used.add(node.name)
        self.batched.add(node)
        self.lead[node] = 1
        self.previous = node.name

    def get_attr(self, node) -> None:
        import torch

        value = _fetch(self.graph_module, node.target)
        if not isinstance(value, torch.Tensor):
            raise Unsupported(f"'{node.target}' is not a tensor")
        if id(value) not in self.tensors:  # a constant fx made while tracing, not the model's state
            self.opaque.add(node)
            return
        self.pending[node] = value
        self.lead[node] = 1 if value.ndim > 1 and value.shape[0] == 1 else 0

    def output(self, node) -> tuple[dict, list, list]:
        import torch.fx

        outs = _leaves(node.args[0])
        if not outs or not all(isinstance(o, torch.fx.Node) and o in self.names for o in outs):
            raise Unsupported("the model's output is not a tensor (or a tuple of tensors) the spec can name")
        self.declare_the_rest()
        return self.spec_inputs, self.entries, [self.names[o] for o in outs]

    def call_module(self, node) -> None:
        import torch.fx

        module = self.modules[node.target]
        layer = module_layer(module)
        if layer is None:
            raise Unsupported(f"module '{node.target}' ({type(module).__name__}) has no paramcalc kind")
        args = [a for a in node.args if isinstance(a, torch.fx.Node)]
        if any(a in self.moved for a in args):
            raise Unsupported(f"module '{node.target}' reads a tensor whose batch dimension was moved")
        kind = next(iter(layer))
        if REGISTRY[kind].arity == (1, 1):
            args = args[:1]
        sources = [self.source(a) for a in args]
        owner = weight_owner(module, kind, self.owners)
        tensors = [id(t) for t in (*module.parameters(), *module.buffers())]
        if owner:
            layer[kind]["tie"] = owner
        elif any(t in self.accounted for t in tensors):
            raise Unsupported(
                f"module '{node.target}' ({type(module).__name__}) is called again, and a {kind} cannot share "
                "its tensors with its first call (tie: works between layers with a weight)"
            )
        name = self.add(node, node.target, kind, layer[kind], sources)
        own_weight(module, kind, self.owners, name)
        self.accounted.update(tensors)

    def declare_the_rest(self) -> None:
        """Tensors no layer counts: read but not used, or in modules eval mode never calls (GoogLeNet's
        and Inception's auxiliary classifiers). Declared by name, so the totals are the model's."""
        for node in list(self.pending):
            if id(self.pending[node]) in self.accounted:  # counted by a layer already (a norm's step count)
                del self.pending[node]
            else:
                self.declare(node)
        for path, tensor in (*self.model.named_parameters(), *self.model.named_buffers()):
            if id(tensor) not in self.accounted:
                self.accounted.add(id(tensor))
                self.add(None, path, *declared(tensor, 0), [])


def _plain(value):
    """A field as YAML writes it: fx's immutable lists and tuples as lists, torch's numbers as Python's."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    raise Unsupported(f"a field value {value!r} ({type(value).__name__}) that a spec cannot hold")


def declared(value, lead: int) -> tuple[str, dict]:
    import torch

    shape = list(value.shape[lead:])
    if isinstance(value, torch.nn.Parameter):
        return "parameter", {"shape": shape} if value.requires_grad else {"shape": shape, "requires_grad": False}
    return "buffer", {"shape": shape}


def _leaves(out) -> list:
    """The tensors a model returns, in order: tuples, lists and dicts (segmentation's {"out": ...})."""
    if isinstance(out, dict):
        out = list(out.values())
    if not isinstance(out, (tuple, list)):
        return [out]
    return [leaf for value in out for leaf in _leaves(value)]


def trace_fx(model, inputs) -> tuple[dict, list, list]:
    """(spec inputs, entries, outputs) from an fx trace; raises Unsupported for what a spec cannot express."""
    import torch.fx
    from torch.fx.passes.shape_prop import ShapeProp

    try:
        tracer = _leaf_tracer(model)
        graph_module = torch.fx.GraphModule(model, tracer.trace(model))
        with contextlib.redirect_stderr(io.StringIO()):  # ShapeProp prints the traceback of a failure
            ShapeProp(graph_module).propagate(*inputs)
    except Exception as e:
        raise Unsupported(f"torch.fx cannot trace it ({type(e).__name__}: {str(e).splitlines()[0][:200]})") from e
    try:
        return FxSpec(model, graph_module).trace()
    except Unsupported:
        raise
    except Exception as e:  # a graph this reading does not foresee: the hooks still count every module
        raise Unsupported(f"cannot read the traced graph ({type(e).__name__}: {str(e)[:200]})") from e


def _fetch(module, target):
    for part in target.split("."):
        module = getattr(module, part)
    return module
