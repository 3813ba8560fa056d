"""forward(): the statements of a module's forward, from the order its units (leaves, classes, chains,
loops) run in; each value in a variable, reused once its last reader has run."""

from __future__ import annotations

from ..layers.binding import Hole, Unexportable, Verbatim, q
from .names import GLOBALS, identifier
from .tree import Mod, Tree


class Forward:
    """Writes forward for the modules of one tree."""

    def __init__(self, tree: Tree):
        self.tree = tree
        self.shape_holes: list[Hole] = []  # of the forward written last: shapes that may differ between uses

    def units(self, mod: Mod):
        """The modules `mod`'s forward calls: leaves, classes, chains and loops; through lists and dicts."""
        for child in mod.children.values():
            if child.mode == "list" and self.loop(child):
                yield child
            elif child.mode in ("list", "dict"):
                yield from self.units(child)
            else:
                yield child

    def loop(self, mod: Mod) -> bool:
        """A list whose modules each read the one before and the same other values (`for layer in ...`)."""
        children = list(mod.children.values())
        if len(children) < 2 or any(c.mode not in ("class", "sequential") or not c.inputs for c in children):
            return False
        current, others = children[0].inputs[0], children[0].inputs[1:]
        for child in children:
            outputs = child.outputs or [self.tree.graph.nodes[child.indices[-1]].name]
            if child.inputs != [current, *others] or len(outputs) != 1 or current in others:
                return False
            current = outputs[0]
        return set(mod.outputs) <= {current}

    def write(self, owner: Mod) -> tuple[list[str], str]:
        """forward's lines and its `def` line. A step that reads a value for the last time writes its
        variable (x = self.bn1(x)); a value a later step continues is `x` (else `out`) when free."""
        self.shape_holes = []
        steps = []  # (unit, values read, values written)
        for unit in sorted(self.units(owner), key=lambda m: m.indices[0]):
            if unit.node is not None:
                steps.append((unit, list(unit.node.inputs), [unit.name]))
            elif unit.mode == "list":  # a loop: its last module's output
                last = list(unit.children.values())[-1]
                steps.append((unit, unit.inputs, last.outputs or [self.tree.graph.nodes[last.indices[-1]].name]))
            else:
                steps.append((unit, unit.inputs, unit.outputs or [self.tree.graph.nodes[unit.indices[-1]].name]))
        if owner.mode == "root":
            params = list(self.tree.spec.inputs)
            names = ["x"] if params == ["input"] else params
            outputs = list(self.tree.graph.outputs)
            outputs = [outputs[-1], *outputs[:-1]] if len(outputs) > 1 else outputs  # the main output first
        else:
            params = owner.inputs
            names = ["x"] + [p.split(".")[-1] for p in params[1:]]
            outputs = owner.outputs or [self.tree.graph.nodes[owner.indices[-1]].name]
        last_read: dict[str, int] = {}
        for s, (_, reads, _) in enumerate(steps):
            for name in reads:
                last_read[name] = s
        kept = set(outputs)
        variables: dict[str, str] = {}
        holder: dict[str, str] = {}  # variable -> the value it holds now
        used = set(GLOBALS)

        def fresh(hint: str) -> str:
            base = identifier(hint, "x")
            base = base if base not in GLOBALS else base + "_"
            name, n = base, 1
            while name in used:
                n += 1
                name = f"{base}_{n}"
            used.add(name)
            return name

        def free(variable: str, s: int) -> bool:
            value = holder.get(variable)
            if value is None or value in kept:
                return value is None
            # a loop reads its other inputs in every turn: their variables stay theirs
            return last_read.get(value, -1) < s or (last_read.get(value) == s and not looping(s, value))

        def looping(s: int, value: str) -> bool:
            return is_loop(steps[s][0]) and value in steps[s][1][1:]

        for param, name in zip(params, names):
            variables[param] = fresh(name)
            holder[variables[param]] = param
        # a parameter or buffer is read where it is used (self.pos_embedding), not through a variable
        tensors = {unit.name for unit, _, _ in steps if unit.node is not None and unit.node.layer.torch_tensor}

        def is_loop(unit: Mod) -> bool:
            return unit.node is None and unit.mode == "list"

        continues: list[str | None] = []
        for s, (_, reads, writes) in enumerate(steps):
            chosen = None
            if len(writes) == 1:
                for name in reads[:1] if is_loop(steps[s][0]) else reads:
                    movable = name not in tensors and (name not in params or variables[name] == "x")
                    if movable and last_read.get(name) == s and name not in kept:
                        chosen = name
                        break
            continues.append(chosen)
        continued = {c for c in continues if c is not None}
        lines = []
        for s, (unit, reads, writes) in enumerate(steps):
            args = [variables[n] for n in reads]
            expression = "" if is_loop(unit) else self.expression(owner, unit, args)
            if unit.name in tensors:
                variables[unit.name] = expression
                continue
            targets = []
            for name in writes:
                previous = continues[s]
                if previous is not None:
                    variable = variables[previous]
                elif name in continued and (choice := next((v for v in ("x", "out") if free(v, s)), None)):
                    variable = choice
                    used.add(choice)
                else:
                    named = unit.name if len(writes) == 1 else name  # a class or chain: its own name
                    variable = fresh(named[len(owner.name) + 1 :] if owner.name else named)
                variables[name] = variable
                holder[variable] = name
                targets.append(variable)
            if is_loop(unit):  # out = input; for layer in self.layers: out = layer(out, ...)
                (target,) = targets
                if target != args[0]:
                    lines.append(f"{target} = {args[0]}")
                layer = fresh("layer")
                lines += [
                    f"for {layer} in {self.tree.access(owner, unit.parts)}:",
                    f"    {target} = {layer}({', '.join([target, *args[1:]])})",
                ]
                continue
            lines.append(f"{', '.join(targets)} = {expression}")
        lines.append(f"return {', '.join(variables[n] for n in outputs)}")
        return lines, f"def forward(self, {', '.join(variables[p] for p in params)}):"

    def expression(self, owner: Mod, unit: Mod, args: list[str]) -> str:
        node = unit.node
        if node is None:
            return f"{self.tree.access(owner, unit.parts)}({', '.join(args)})"
        layer, in_shapes = node.layer, [self.tree.shapes[n] for n in node.inputs]
        if layer.torch_tensor:
            return layer.torch_read(self.tree.access(owner, unit.parts, parameter=True))
        if self.tree.sources[node.name] is not None:
            return layer.torch_call(self.tree.access(owner, unit.parts), args, in_shapes)
        out_shape: tuple = self.tree.shapes[node.name]
        if layer.torch_writes_shape and owner.mode == "class":  # the shape may differ between uses
            local = unit.name[len(owner.name) + 1 :]
            self.shape_holes.append(Hole(q(tuple(out_shape)), f"{local}_shape"))
            out_shape = (Verbatim(f"\x02{len(self.shape_holes) - 1}\x02"),)
        if layer.torch_equal_batches:
            args = self.batched(node, args)
        expression = layer.torch_forward(args, in_shapes, out_shape)
        if expression is None:
            raise Unexportable(node.kind)
        return expression

    def batched(self, node, args: list[str]) -> list[str]:
        """torch.cat needs equal batch sizes: a parameter (batch 1) is expanded to its neighbours' batch."""
        params = [name in self.tree.tensors for name in node.inputs]
        if not any(params) or all(params):
            return args
        batch = f"{args[params.index(False)]}.shape[0]"
        return [
            f"{a}.expand({', '.join([batch] + ['-1'] * len(self.tree.shapes[name]))})" if is_param else a
            for a, name, is_param in zip(args, node.inputs, params)
        ]
