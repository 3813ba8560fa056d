"""State-space layers: Mamba's selective-scan mixer."""

from __future__ import annotations

from .base import (
    GLOBAL,
    Context,
    Layer,
    Params,
    ReachOf,
    Saved,
    Shape,
    arg,
    check_declared,
    dtype_arg,
    expect_rank,
    kind_class,
)


@kind_class
class MambaMixer(Layer):
    """Mamba's mixer on (seq, hidden) samples, as transformers' MambaMixer: in_proj to 2 · inner (the path
    and its gate), a depthwise causal conv1d of conv_kernel taps, x_proj to dt_rank + 2 · state (the step and
    the input-dependent B and C), dt_proj back to inner, the selective scan with A_log (inner × state) and
    D (inner), out_proj to hidden."""

    state: int = arg(16, "int", "SSM state size per channel", aka=("state_size", "d_state"))
    intermediate: int = arg(
        None, "int", "inner channels (default expand · hidden)", aka=("intermediate_size", "d_inner")
    )
    expand: int = arg(2, "int", "inner = expand · hidden, when inner is not given")
    conv_kernel: int = arg(4, "int", "taps of the depthwise causal convolution", aka=("d_conv",))
    dt_rank: int = arg(None, "int", "rank of the step projection (default ceil(hidden / 16))", aka=("time_step_rank",))
    bias: bool = arg(False, "bool", "biases on in_proj and out_proj", aka=("use_bias",))
    conv_bias: bool = arg(True, "bool", "the convolution's bias", aka=("use_conv_bias",))
    hidden: int = arg(None, "int", "inferred from the input; if given, checked against it", counts=False)
    dtype: str = dtype_arg()

    kind, torch_name, primary = "mambamixer", "MambaMixer", "state"
    unexportable = "Mamba's selective scan has no torch.nn module"
    formulas = {
        "output": "same as input (seq, hidden)",
        "weights": "hidden·2·inner (in_proj) + inner·k (conv1d) + inner·(r + 2·state) (x_proj) + r·inner (dt_proj) "
        "+ inner·state (A_log) + inner (D) + inner·hidden (out_proj), r = dt_rank, k = conv_kernel",
        "bias": "inner (conv_bias) + inner (dt_proj) + 2·inner + hidden (bias)",
        "macs": "L·hidden·2·inner + (L + k − 1)·inner·k + L·inner·(r + 2·state) + L·r·inner + L·inner·state (the "
        "scan's products with C) + L·inner·hidden",
    }

    def _sizes(self, shapes):
        expect_rank(shapes[0], (2,), "(seq, hidden)")
        length, hidden = shapes[0]
        check_declared(self.hidden, hidden, "hidden")
        inner = self.intermediate or self.expand * hidden
        rank = self.dt_rank or -(-hidden // 16)
        return length, hidden, inner, rank

    def output_shape(self, shapes: list[Shape]) -> Shape:
        self._sizes(shapes)
        return shapes[0]

    def params(self, shapes: list[Shape]) -> Params:
        _, h, n, r = self._sizes(shapes)
        s, k = self.state, self.conv_kernel
        weights = h * 2 * n + n * k + n * (r + 2 * s) + r * n + n * s + n + n * h
        bias = n * self.conv_bias + n + (2 * n + h if self.bias else 0)
        return Params(weights=weights, bias=bias)

    def param_tensors(self, shapes: list[Shape]) -> int:
        return 8 + self.conv_bias + (2 if self.bias else 0)

    def macs(self, shapes: list[Shape], out: Shape) -> int:
        length, h, n, r = self._sizes(shapes)
        s, k = self.state, self.conv_kernel
        return (
            length * h * 2 * n
            + (length + k - 1) * n * k
            + length * n * (r + 2 * s)
            + length * r * n
            + (length * n * s)
            + length * n * h
        )

    def saves(self, shapes: list[Shape], out: Shape, ctx: Context) -> Saved:
        """An estimate (not measured against PyTorch): the projections' and the convolution's inputs and outputs,
        and the scan's per-step states (L · inner · state)."""
        length, h, n, r = self._sizes(shapes)
        b = ctx.batch
        return Saved(
            inputs=(0,),
            tensors=((b * length * 2 * n, "act"), (b * length * n, "act"), (b * length * n * self.state, "float32")),
        )

    state_cache = True  # decoding keeps states, not positions (serve.py pages them per sequence)

    def kv_cache_elements(self, shapes: list[Shape], positions: int) -> int:
        """Decoding keeps a state of fixed size, however many positions: the convolution's last conv_kernel − 1
        inputs and the scan's inner × state."""
        _, _, n, _ = self._sizes(shapes)
        return n * (self.conv_kernel - 1) + n * self.state

    def reach(self, shapes: list[Shape], out: Shape) -> ReachOf:
        return GLOBAL


KINDS = [MambaMixer]
