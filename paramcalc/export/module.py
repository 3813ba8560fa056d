"""The module's text: its docstring and imports, the helper classes its kinds need, the block classes,
the network's class (with ties and freezes), build_model() and example_inputs()."""

from __future__ import annotations

import re

from ..layers import REGISTRY
from ..layers.binding import Call, q
from .blocks import BlockClass, Blocks
from .names import RESERVED, camel, plain
from .pyformat import formatted, literal, wrap
from .tree import DENSE, DENSE_SOURCE, Tree

NAMED_SEQUENTIAL = '''

def named_sequential(children):
    """nn.Sequential whose children have the given names, in order (nn.Sequential takes an OrderedDict)."""
    sequential = nn.Sequential()
    for name, module in children.items():
        sequential.add_module(name, module)
    return sequential
'''

# the classes kinds define for export (each kind's torch_classes), and a dense repeat's: name -> Python source
HELPERS = {name: source for cls in REGISTRY.values() for name, source in cls.torch_classes.items()}
HELPERS[DENSE] = DENSE_SOURCE


class Module:
    """Writes the module of a tree whose block classes are collected."""

    def __init__(self, tree: Tree, blocks: Blocks, tokens: dict[str, int]):
        self.tree, self.blocks = tree, blocks
        self.tokens = tokens  # token-id inputs with their vocabulary (Analysis.token_inputs)

    def after(self) -> list[str]:
        lines = []
        for node in self.tree.graph.nodes:
            parts = self.tree.by_name[node.name].parts
            if node.tie:
                owner = self.tree.by_name[node.tie]
                if owner.node is not None and owner.node.layer.torch_tensor:
                    theirs = self.tree.access(self.tree.root, owner.parts, parameter=True)
                else:
                    theirs = self.tree.access(self.tree.root, owner.parts) + ".weight"
                if node.layer.torch_tensor:
                    parent = self.tree.access(self.tree.root, parts[:-1])
                    lines.append(f"{parent}.register_parameter({q(parts[-1])}, {theirs})")
                else:
                    lines.append(f"{self.tree.access(self.tree.root, parts)}.weight = {theirs}")
            if node.frozen:
                is_tensor = node.layer.torch_tensor
                lines.append(f"{self.tree.access(self.tree.root, parts, parameter=is_tensor)}.requires_grad_(False)")
        return lines

    def render(self) -> str:
        spec = self.tree.spec
        taken = {"Network", "INPUT_SHAPES", "TOKEN_INPUTS", *HELPERS}
        cls = camel(spec.name, "Network")
        cls = cls if plain(cls) and cls not in taken else "Network"
        taken.add(cls)
        variants: dict[str, int] = {}
        for c in self.blocks.classes:
            variants[c.definition] = variants.get(c.definition, 0) + 1
        counts: dict[str, int] = {}
        numbered: dict[str, int] = {}
        for c in self.blocks.classes:
            base = camel(c.definition, "Block")
            if variants[c.definition] > 1:
                counts[c.definition] = counts.get(c.definition, 0) + 1
                base = f"{base}_{counts[c.definition]}"
            n = numbered.get(base, 1)  # blocks whose names differ only in punctuation cost no search
            name = base if n == 1 else f"{base}{n}"
            while name in taken:
                n += 1
                name = f"{base}{n}"
            numbered[base] = n
            c.name = name
            taken.add(name)
        root = self.blocks.body(self.tree.root)
        blocks = [line for c in self.blocks.classes for line in self.render_class(c, variants[c.definition])]
        shapes = ", ".join(f"{q(name)}: {list(shape)!r}" for name, shape in spec.inputs.items())
        tokens = self.tokens
        lines = [
            f'"""{cls}, exported by paramcalc from a spec ({len(self.tree.graph.nodes)} layers).',
            "",
            "build_model() returns the network; example_inputs() returns one batch of inputs shaped as the",
            'spec says. Shapes in forward are batch-first."""',
            "",
            "import torch",
            "from torch import nn",
        ]
        if self.blocks.init.uses_named:
            lines += NAMED_SEQUENTIAL.rstrip("\n").split("\n")
        for helper in sorted(self.tree.helpers):
            lines += HELPERS[helper].rstrip("\n").split("\n")
        lines += blocks
        lines += ["", "", f"class {cls}(nn.Module):", "    def __init__(self):", "        super().__init__()"]
        lines += self.blocks.init.lines(root, literal) + [w for line in self.after() for w in wrap(line, "        ")]
        lines += ["", "    " + root.signature]
        lines += [wrapped for line in root.forward for wrapped in wrap(line, "        ")]  # (no shape holes)
        lines += ["", ""]
        lines += ["def build_model():", f"    return {cls}()", "", ""]
        lines += [
            "# per-sample shapes of the inputs, in forward's order; token-id inputs with their vocabulary",
            f"INPUT_SHAPES = {{{shapes}}}",
            f"TOKEN_INPUTS = {q(tokens)}",
            "",
            "",
            "def example_inputs(batch=1, generator=None):",
            '    """One batch of inputs: token ids below each vocabulary, else standard normal values."""',
            "    out = []",
            "    for name, shape in INPUT_SHAPES.items():",
            "        if name in TOKEN_INPUTS:",
            "            out.append(torch.randint(0, TOKEN_INPUTS[name], (batch, *shape), generator=generator))",
            "        else:",
            "            out.append(torch.randn(batch, *shape, generator=generator))",
            "    return tuple(out)",
            "",
        ]
        return "\n".join(lines)

    def render_class(self, c: BlockClass, variants: int) -> list[str]:
        lines = ["", ""]
        if variants > 1:
            lines += [
                f"# {c.name}: one of {variants} classes for one block of the spec, whose uses differ",
                "# in structure (a `when:`, or a kind chosen by an argument)",
            ]
        lines.append(f"class {c.name}(nn.Module):")
        lines += formatted(Call("def __init__", ["self", *c.params]), "    ", "", ":", str)
        lines.append("        super().__init__()")
        subs = {id(h): text for h, text in zip(c.body.holes, c.subs)}
        lines += self.blocks.init.lines(c.body, lambda h: subs[id(h)], flags=c.flags)
        used = self.shapes_used(c, lines)
        lines += ["", "    " + c.body.signature]
        for line in c.body.forward:
            line = re.sub("\x02(\\d+)\x02", lambda m: used[int(m.group(1))], line)
            optional = self.blocks.optional_call(line, c.flags)
            if optional:
                lines += [f"        if self.{optional} is not None:", f"            {line}"]
            else:
                lines += wrap(line, "        ")
        return lines

    def shapes_used(self, c: BlockClass, init: list[str]) -> list[str]:
        """The text of each shape hole in forward: the shape, or `*self.NAME` where uses differ (an
        argument, kept by __init__)."""
        texts = []
        children = set(c.members[0].children)
        for hole, text in zip(c.body.holes[c.body.in_init :], c.subs[c.body.in_init :]):
            assert text is not None
            if text == hole.value:
                texts.append(text[1:-1].rstrip(","))
                continue
            attribute = text
            while attribute in children or attribute in RESERVED:
                attribute += "_"
            if f"*self.{attribute}" not in texts:  # a shape argument used twice is kept once
                init.append(f"        self.{attribute} = {text}")
            texts.append(f"*self.{attribute}")
        return texts
