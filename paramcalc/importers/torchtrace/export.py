"""A torch.export graph (non-strict: the model's Python runs, on fake tensors, so nothing is
allocated) -> spec entries, where torch.fx cannot trace the model. The graph is of ATen operations:
those holding a module's tensors become that module's kind, named by its path (aten.py), and the
operations between modules are kept, as on the fx path (ops.py)."""

from __future__ import annotations

import contextlib
import io
import logging

from . import Unsupported
from .fx import FxSpec


class ExportSpec(FxSpec):
    """FxSpec over an exported program: the model's parameters and buffers arrive as placeholders
    (read like fx's get_attr), shapes from the fake tensors fx's ShapeProp would have computed."""

    def __init__(self, model, program) -> None:
        from .aten import HANDLERS

        super().__init__(model, program.graph_module)
        signature = program.graph_signature
        self.paths = {**signature.inputs_to_parameters, **signature.inputs_to_buffers}
        self.state = {
            **dict(model.named_parameters(remove_duplicate=False)),
            **dict(model.named_buffers(remove_duplicate=False)),
        }
        self.user_inputs = set(signature.user_inputs)
        self.handlers = HANDLERS

    def operation(self, node) -> None:
        """Work no layer can write on constants and the model's state alone (rotary tables from inv_freq
        and positions) is a constant to the spec: its tensors stay declared, and nothing is counted."""
        import torch

        from .ops import operation

        self.note_range(node)
        try:
            operation(self, node)
        except Unsupported:
            inputs = node.all_input_nodes
            learned = any(isinstance(self.pending.get(a, self.held.get(a)), torch.nn.Parameter) for a in inputs)
            if not any(a in self.opaque for a in inputs) or any(a in self.batched for a in inputs) or learned:
                raise  # a layer of the model's parameters on constants (a position encoding's conv) is work
            self.opaque.add(node)

    def note_range(self, node) -> None:
        """Positions: arange, shifted by a number, viewed or sliced along its last dim."""
        import torch.fx

        full = self.full(node)
        if not full or _numel(full) != full[-1]:
            return
        name = getattr(getattr(node.target, "_overloadpacket", None), "__name__", "")
        args = node.args
        if name == "arange":
            if all(type(a) is int for a in args) and (len(args) in (1, 2) or args[2:] == (1,)):
                self.ranges[node] = args[0] if len(args) > 1 else 0
            return
        start = self.ranges.get(args[0]) if args and isinstance(args[0], torch.fx.Node) else None
        if start is None:
            return
        before = self.full(args[0]) or []
        if name in ("add", "sub") and len(args) == 2 and type(args[1]) is int:
            self.ranges[node] = start + args[1] if name == "add" else start - args[1]
        elif name == "slice" and len(args) > 1 and args[1] % len(before) == len(before) - 1 and args[4:] in ((), (1,)):
            first = args[2] if len(args) > 2 and args[2] else 0
            self.ranges[node] = start + (first + before[-1] if first < 0 else min(first, before[-1]))
        elif name in _KEEPS_POSITIONS and full[-1] == before[-1]:
            self.ranges[node] = start

    def full(self, node) -> list[int] | None:
        value = node.meta.get("val")
        shape = getattr(value, "shape", None)
        if shape is None or not hasattr(value, "dtype"):
            return None
        try:
            return [int(d) for d in shape]
        except TypeError:  # a size known only at run time
            raise Unsupported(f"'{node.name}' has a shape that depends on the data ({list(shape)})") from None

    def path(self, node) -> str:
        return self.paths.get(node.name, node.target)

    def module_path(self, node) -> str | None:
        stack = node.meta.get("nn_module_stack") or {}
        return next(reversed(stack.values()))[0] if stack else None

    def account(self, path: str) -> None:
        tensor = self.state.get(path)
        if tensor is not None:
            self.accounted.add(id(tensor))

    def placeholder(self, node) -> None:
        if node.name in self.paths:
            value = self.state[self.paths[node.name]]
            self.pending[node] = value
            self.lead[node] = 1 if value.ndim > 1 and value.shape[0] == 1 else 0
            self.batched.discard(node)
            if _positions(value):
                self.ranges[node] = 0
        elif node.name in self.user_inputs:
            super().placeholder(node)
        else:  # a constant the export lifted out of the code
            self.opaque.add(node)


_KEEPS_POSITIONS = {
    "unsqueeze", "squeeze", "view", "reshape", "_unsafe_view", "expand", "to", "_to_copy", "alias", "clone",
    "contiguous", "lift_fresh_copy",
}  # fmt: skip


def _numel(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _positions(value) -> bool:
    """A buffer holding 0, 1, 2, ... (BERT's position_ids), read from the model's real tensor."""
    import torch

    if value.dtype not in (torch.int32, torch.int64) or value.device.type == "meta" or not value.ndim:
        return False
    if not value.numel() or value.numel() != value.shape[-1]:
        return False
    return bool(torch.equal(value.reshape(-1).cpu(), torch.arange(value.numel(), dtype=value.dtype)))


def _data_dependent(error) -> str | None:
    """Where the model's code made a size depend on the data (torchvision's NMS keeps as many boxes as
    the scores allow): its innermost public function outside torch, and the caller of that."""
    if "data-dependent" not in str(error) and "DataDependent" not in type(error).__name__:
        return None
    frames = []
    tb = error.__traceback__
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__", "")
        if module != "torch" and not module.startswith("torch.") and module != __name__:
            frames.append(f"{module}.{tb.tb_frame.f_code.co_qualname}")
        tb = tb.tb_next
    public = [i for i, f in enumerate(frames) if not f.rpartition(".")[2].startswith("_")]
    if not public:
        return None
    inner = public[-1]
    caller = next((frames[i] for i in reversed(public) if i < inner and frames[i] != frames[inner]), None)
    return frames[inner] + (f" (called by {caller})" if caller else "")


def trace_export(model, inputs) -> tuple[dict, list, list]:
    """(spec inputs, entries, outputs) from torch.export; raises Unsupported, with torch's reason."""
    import torch

    logging.disable(logging.CRITICAL)  # torch logs and prints the graph that failed: the refusal says enough
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            program = torch.export.export(model, tuple(inputs), strict=False)
    except Exception as e:
        first = next((line for line in str(e).splitlines() if line.strip()), "")
        where = _data_dependent(e)
        if where:
            raise Unsupported(f"torch.export cannot trace it: sizes depend on the data in {where}") from e
        raise Unsupported(f"torch.export cannot trace it ({type(e).__name__}: {first[:200]})") from e
    finally:
        logging.disable(logging.NOTSET)
    try:
        return ExportSpec(model, program).trace()
    except Unsupported as e:
        raise Unsupported(f"torch.export: {e}") from e
    except Exception as e:  # a graph this reading does not foresee
        raise Unsupported(f"torch.export: cannot read the graph ({type(e).__name__}: {str(e)[:200]})") from e
