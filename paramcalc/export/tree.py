"""The module tree: the spec's hierarchical names as nested modules, each leaf built by its kind's
torch_module, each container made a block's class, an nn.Sequential (a plain chain), or an
nn.ModuleList / nn.ModuleDict whose children forward calls; and the source that reaches a module."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..graph import Block, Node
from ..layers.base import Shape
from ..layers.binding import Call, Unexportable, q
from ..spec import Spec
from .names import RESERVED, plain, refuse

# The module a dense repeat (`connect: dense`) becomes: DenseNet's dense block, as torchvision's
# _DenseBlock computes it (its layers' torch.cat moved into the loop: the same tensors).
DENSE = "DenseConcat"
DENSE_SOURCE = '''

class DenseConcat(nn.ModuleDict):
    """Modules each reading the input and every earlier module's output, concatenated along dim 1 (a
    DenseNet dense block); returns them all concatenated."""

    def forward(self, x):
        features = [x]
        for module in self.values():
            features.append(module(torch.cat(features, dim=1)))
        return torch.cat(features, dim=1)
'''


@dataclass(eq=False)
class Mod:
    """A module of the exported tree: a leaf layer, or a container named by a prefix of the spec's
    hierarchical names. mode: leaf; class (a block's use, a class of its own); sequential (a plain
    chain: nn.Sequential); list / dict (nn.ModuleList / nn.ModuleDict, whose children the owning
    class's forward calls one by one); dense (a dense repeat: DENSE); root (the network)."""

    name: str
    parts: tuple[str, ...]
    node: Node | None = None
    children: dict[str, Mod] = field(default_factory=dict)
    mode: str = "leaf"
    indices: list[int] = field(default_factory=list)  # of its leaves, in execution order
    inputs: list[str] = field(default_factory=list)  # values it reads from outside, in order of first read
    outputs: list[str] = field(default_factory=list)  # its values read outside (or network outputs)
    block: Block | None = None
    group: int = -1  # class mode: its class (an index into Blocks.classes)
    values: list[str] = field(default_factory=list)  # class mode: its constructor arguments' values


class Tree:
    """The exported module tree of a validated spec (its graph and shapes)."""

    def __init__(self, spec: Spec, graph, shapes: dict[str, Shape]):
        self.spec, self.graph, self.shapes = spec, graph, shapes
        self.leaves = {node.name for node in graph.nodes}
        self.tensors = {node.name for node in graph.nodes if node.layer.torch_tensor}  # parameters, buffers
        self.helpers: set[str] = set()  # generated module classes the code uses
        self.sources: dict[str, Call | None] = {}  # each leaf's constructor call (None: not a module)
        self.readers: dict[str, list[int]] = {}
        for node in graph.nodes:
            for name in node.inputs:
                self.readers.setdefault(name, []).append(node.index)
        self.network_outputs = set(graph.outputs)
        self.by_name: dict[str, Mod] = {}
        self.root = self.build()

    def path(self, name: str, node) -> list[str]:
        """A layer's name split into the attributes that reach it; refused where torch cannot hold one."""
        parts = name.split(".")
        for part in parts:
            if not part:
                raise refuse(f"the name {name!r} has an empty part between dots", node)
            if part in RESERVED or part.startswith("__"):
                raise refuse(f"the name {name!r} uses {part!r}, an attribute of torch.nn.Module; rename it", node)
        for i in range(1, len(parts)):
            prefix = ".".join(parts[:i])
            if prefix in self.leaves:
                raise refuse(f"the name {name!r} would live inside layer {prefix!r}; rename one of them", node)
        return parts

    def build(self) -> Mod:
        root = Mod("", (), mode="root")
        for node in self.graph.nodes:
            parts = self.path(node.name, node)
            try:
                source = node.layer.torch_module([self.shapes[n] for n in node.inputs])
            except Unexportable as refused:  # the kind's reason, or this use's (`attention with softcap`)
                detail = node.layer.unexportable or (str(refused) if str(refused) != node.kind else "")
                why = f": {detail}" if detail else ""
                raise refuse(f"kind '{node.kind}' has no PyTorch equivalent here{why}", node) from None
            self.sources[node.name] = source
            if source is not None and source.func in node.layer.torch_classes:
                self.helpers.add(source.func)
            mod = root
            for i, part in enumerate(parts[:-1]):
                mod = mod.children.setdefault(part, Mod(".".join(parts[: i + 1]), tuple(parts[: i + 1]), mode=""))
            if parts[-1] in mod.children:
                raise refuse(f"the name {node.name!r} is both a layer and a group of layers; rename one", node)
            mod.children[parts[-1]] = leaf = Mod(node.name, tuple(parts), node=node)
            self.by_name[node.name] = leaf
        blocks = {b.name: b for b in self.graph.blocks if b.end > b.start}
        self.settle(root, blocks)
        return root

    def settle(self, mod: Mod, blocks: dict[str, Block]):
        """Post-order: each module's leaves, inputs and outputs, then what it becomes."""
        if mod.node is not None:
            mod.indices = [mod.node.index]
        else:
            for child in mod.children.values():
                self.settle(child, blocks)
            mod.indices = sorted(i for child in mod.children.values() for i in child.indices)
        nodes = self.graph.nodes
        inside = {nodes[i].name for i in mod.indices}
        where = set(mod.indices)
        # in order of first read (a dict: a layer may read thousands)
        mod.inputs = list(dict.fromkeys(name for i in mod.indices for name in nodes[i].inputs if name not in inside))
        mod.outputs = [
            nodes[i].name
            for i in mod.indices
            if nodes[i].name in self.network_outputs or any(r not in where for r in self.readers.get(nodes[i].name, ()))
        ]
        if mod.mode in ("leaf", "root"):
            return
        contiguous = mod.indices[-1] - mod.indices[0] + 1 == len(mod.indices)
        block = blocks.get(mod.name)
        if (
            block is not None
            and block.args is not None
            and block.kind in self.spec.blocks
            and (block.start, block.end) == (mod.indices[0], mod.indices[-1] + 1)
        ):
            mod.mode, mod.block = "class", block
        elif block is not None and block.dense and self.dense(mod):
            mod.mode = "dense"
            self.helpers.add(DENSE)
        elif contiguous and self.chain(mod):
            mod.mode = "sequential"
        elif list(mod.children) == [str(i) for i in range(len(mod.children))] and not any(
            c.node is not None and self.sources[c.name] is None for c in mod.children.values()
        ):
            mod.mode = "list"
        else:
            mod.mode = "dict"

    def flow(self, mod: Mod) -> tuple[list[str], list[str]] | None:
        """(inputs, outputs) of a module called as one, taking one input: a torch module, a class, a chain."""
        if mod.node is not None:
            node = mod.node
            if self.sources[node.name] is None or len(node.inputs) != 1:
                return None
            if node.layer.torch_call("m", ["x"], [self.shapes[node.inputs[0]]]) != "m(x)":  # not a chain's link
                return None
            return node.inputs, [node.name]
        if mod.mode in ("class", "sequential", "dense"):
            return mod.inputs, mod.outputs or [self.graph.nodes[mod.indices[-1]].name]
        return None

    def dense(self, mod: Mod) -> bool:
        """A dense repeat (`connect: dense`) whose copies are each called as one, and read its input,
        then each concatenation of its input and the copies before: DENSE's loop computes it."""
        if len(mod.inputs) != 1:
            return False
        features, current = mod.inputs[:], mod.inputs[0]
        for child in mod.children.values():
            if child.node is not None and self.sources[child.name] is None:  # a concatenation
                if child.node.inputs != features:
                    return False
                current = child.name
                continue
            io = self.flow(child)
            if io is None or io[0] != [current] or len(io[1]) != 1:
                return False
            features.append(io[1][0])
        return current != mod.inputs[0] and set(mod.outputs) <= {current}

    def chain(self, mod: Mod) -> bool:
        """Each child reads only the one before it (the first, the module's one input); only the last
        is read outside."""
        if len(mod.inputs) != 1:
            return False
        current = mod.inputs[0]
        for child in mod.children.values():
            io = self.flow(child)
            if io is None or io[0] != [current] or len(io[1]) != 1:
                return False
            current = io[1][0]
        return set(mod.outputs) <= {current}

    def walk(self, mod: Mod):
        yield mod
        for child in mod.children.values():
            yield from self.walk(child)

    def tensors_in(self, mod: Mod):
        """The parameters and buffers in a list or dict (not those a class or chain in it holds)."""
        for child in mod.children.values():
            if child.node is not None and child.node.layer.torch_tensor:
                yield child
            elif child.mode in ("list", "dict"):
                yield from self.tensors_in(child)

    def modules(self, mod: Mod) -> list[tuple[str, Mod]]:
        """A container's children that are modules (not tensors or torch operations), in order."""
        return [(p, c) for p, c in mod.children.items() if c.node is None or self.sources[c.name] is not None]

    def access(self, owner: Mod, parts: tuple[str, ...], parameter: bool = False) -> str:
        """Source that reaches a module (or, with `parameter`, a tensor: the last part) from `self` in owner."""
        code, mod = "self", owner
        relative = parts[len(owner.parts) :]
        for i, part in enumerate(relative):
            if parameter and i == len(relative) - 1:
                return f"{code}.{part}" if plain(part) else f"getattr({code}, {q(part)})"
            if mod.mode == "sequential":
                code += f"[{[p for p, _ in self.modules(mod)].index(part)}]"
            elif mod.mode == "list":
                code += f"[{int(part)}]"
            elif plain(part):
                code += f".{part}"
            elif mod.mode in ("dict", "dense"):
                code += f"[{q(part)}]"
            else:
                code = f"getattr({code}, {q(part)})"
            mod = mod.children[part]
        return code
