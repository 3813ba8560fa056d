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
        elif node.name in self.user_inputs:
            super().placeholder(node)
        else:  # a constant the export lifted out of the code
            self.opaque.add(node)


def trace_export(model, inputs) -> tuple[dict, list, list]:
    """(spec inputs, entries, outputs) from torch.export; raises Unsupported, with torch's reason."""
    import torch

    logging.disable(logging.CRITICAL)  # torch logs and prints the graph that failed: the refusal says enough
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            program = torch.export.export(model, tuple(inputs), strict=False)
    except Exception as e:
        first = next((line for line in str(e).splitlines() if line.strip()), "")
        raise Unsupported(f"torch.export cannot trace it ({type(e).__name__}: {first[:200]})") from e
    finally:
        logging.disable(logging.NOTSET)
    try:
        return ExportSpec(model, program).trace()
    except Unsupported as e:
        raise Unsupported(f"torch.export: {e}") from e
    except Exception as e:  # a graph this reading does not foresee
        raise Unsupported(f"torch.export: cannot read the graph ({type(e).__name__}: {str(e)[:200]})") from e
