"""__init__: the statements that build each module of the tree (its constructor call, a class's
arguments, a parameter or buffer registered on its parent), written with their holes filled."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..layers.binding import Call, Hole, Kw, Pair, q
from ..layers.linear import Embedding
from .names import plain
from .pyformat import formatted
from .tree import DENSE, Mod, Tree

if TYPE_CHECKING:
    from .blocks import BlockClass, Body


class ClassName:
    """A class's name where it is used, known once every class is (a placeholder until then)."""

    def __init__(self, classes: list[BlockClass], index: int):
        self.classes, self.index = classes, index

    def __str__(self) -> str:
        return self.classes[self.index].name or f"\x01{self.index}\x01"


class Init:
    """Writes the __init__ statements of a tree's modules; `classes` are the block classes, named once
    every class is known."""

    def __init__(self, tree: Tree, classes: list):
        self.tree, self.classes = tree, classes
        self.uses_named = False  # a chain with named children: the code defines named_sequential

    def statements(self, owner: Mod, part: str, child: Mod, init: list):
        """The statements that build `child` in `owner`'s __init__."""
        if child.node is not None and self.tree.sources[child.name] is None:
            if child.node.layer.torch_tensor:
                init.append(("", self.tensor(owner, child)))
            return
        init.append((part, self.constructor(child)))
        if child.mode in ("list", "dict"):  # its tensors, registered on it once it exists
            init += [("", self.tensor(owner, leaf)) for leaf in self.tree.tensors_in(child)]

    def constructor(self, mod: Mod):
        if mod.node is not None:
            source = self.tree.sources[mod.name]
            assert source is not None
            return source
        if mod.mode == "class":
            cls = self.classes[mod.group]
            return Call(ClassName(self.classes, mod.group), [Kw(p, Hole(v, p)) for p, v in zip(cls.params, mod.values)])
        modules = self.tree.modules(mod)
        items = [self.constructor(c) for _, c in modules]
        names = [part for part, _ in modules]
        if mod.mode == "list":
            return Call("nn.ModuleList", [Call("", items, "[]", runs=True)])
        if mod.mode == "sequential" and names == [str(i) for i in range(len(names))]:
            return Call("nn.Sequential", items, runs=True)
        pairs = [Pair(q(name), item) for name, item in zip(names, items)]
        if mod.mode == "dense":
            return Call(DENSE, [Call("", pairs, "{}")])
        if mod.mode == "sequential":
            self.uses_named = True
            return Call("named_sequential", [Call("", pairs, "{}")])
        return Call("nn.ModuleDict", [Call("", pairs, "{}")])

    def tensor(self, owner: Mod, mod: Mod) -> Call:
        """`register_parameter(...)` or `register_buffer(...)` for a parameter or buffer layer, on its parent."""
        node = mod.node
        assert node is not None
        # zeros: valid indices for the embeddings that read a buffer (position and token-type ids)
        ids = any(isinstance(n.layer, Embedding) and node.name in n.inputs for n in self.tree.graph.nodes)
        parent = self.tree.access(owner, mod.parts[:-1])
        return node.layer.torch_register(parent, q(mod.parts[-1]), self.tree.shapes[node.name], ids)

    def lines(self, body: Body, sub, indent: str = "        ", flags: dict[str, str] | None = None) -> list[str]:
        lines = []
        for attribute, e in body.init:
            if not attribute:
                lines += formatted(e, indent, "", "", sub)
            elif flags and attribute in flags:  # an optional module
                lines += [f"{indent}self.{attribute} = None", f"{indent}if {flags[attribute]}:"]
                lines += formatted(e, indent + "    ", f"self.{attribute} = ", "", sub)
            elif plain(attribute):
                lines += formatted(e, indent, f"self.{attribute} = ", "", sub)
            else:
                lines += formatted(Call("self.add_module", [q(attribute), e]), indent, "", "", sub)
        return lines
