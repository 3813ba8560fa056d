"""Mixture of experts: a router (the gate that scores every expert per token) and a set of experts
(each an MLP; each token runs top_k of them). Every expert's parameters count in the total; per token
only the top_k routed experts (and any shared ones) are active, and only their work is in the MACs."""

from __future__ import annotations

from ..errors import FieldError, ShapeError
from .base import (
    REQUIRED,
    SAME,
    Context,
    Layer,
    Params,
    ReachOf,
    Saved,
    Shape,
    arg,
    dtype_arg,
    expect_rank,
    fmt_shape,
    kind_class,
    prod,
)
from .binding import Call, Hole, Kw, Unexportable, call, dtype, hole

RANKS = tuple(range(1, 9))


@kind_class
class Router(Layer):
    """The gate of a mixture of experts: a linear map from the hidden features to one logit per expert
    (Mixtral's `gate`), from which each token's top_k experts are chosen (no count)."""

    experts: int = arg(REQUIRED, "int", "routed experts", aka=("num_experts", "num_local_experts"))
    top_k: int = arg(1, "int", "experts each token is sent to", aka=("num_experts_per_tok",))
    bias: bool = arg(False, "bool", "a bias per expert logit")
    correction_bias: bool = arg(
        False, "bool", "a buffer of one score correction per expert (DeepSeek-V3's e_score_correction_bias)"
    )
    score: str = arg("softmax", "choice", "how logits become weights", choices=("softmax", "sigmoid"), counts=False)
    dtype: str = dtype_arg()

    kind, torch_name, primary = "router", "Router", "experts"

    def torch_module(self, in_shapes: list[Shape]) -> Call | None:
        """nn.Linear(features, experts): the gate's logits (choosing the top_k is the experts' forward)."""
        if self.correction_bias:
            raise Unexportable(f"{self.kind} with correction_bias")
        return call(
            "Linear",
            [hole(in_shapes[0][-1], "in_features"), hole(self.experts, "out_features")],
            [Kw("bias", hole(self.bias, "bias")), Kw("dtype", Hole(dtype(self.dtype), "dtype", not self.dtype))],
        )

    formulas = {
        "output": "(*, experts): one logit per expert",
        "weights": "features · experts",
        "bias": "experts (when bias)",
        "macs": "Π leading · features · experts",
    }

    def validate(self) -> None:
        if self.top_k > self.experts:
            raise FieldError("top_k", f"top_k={self.top_k} is more than experts={self.experts}")

    def output_shape(self, shapes: list[Shape]) -> Shape:
        expect_rank(shapes[0], RANKS, "(..., features)")
        return (*shapes[0][:-1], self.experts)

    def params(self, shapes: list[Shape]) -> Params:
        features = shapes[0][-1]
        return Params(
            weights=features * self.experts,
            bias=self.experts if self.bias else 0,
            buffers=self.experts if self.correction_bias else 0,
        )

    def macs(self, shapes: list[Shape], out: Shape) -> int:
        return prod(shapes[0][:-1]) * shapes[0][-1] * self.experts

    def saves(self, shapes: list[Shape], out: Shape, ctx: Context) -> Saved:
        return Saved(inputs=(0,))

    def reach(self, shapes: list[Shape], out: Shape) -> ReachOf:
        return SAME


@kind_class
class Experts(Layer):
    """The experts of a mixture: `experts` MLPs of width ff (gated: gate and up projections, the
    activation of one times the other, a down projection, as Mixtral's; else up, activation, down), of
    which each token runs top_k, weighted by the router; `shared` experts run for every token. Reads
    `from: [hidden, router]`; writes the hidden features' shape."""

    experts: int = arg(REQUIRED, "int", "routed experts", aka=("num_experts", "num_local_experts"))
    top_k: int = arg(REQUIRED, "int", "experts each token runs", aka=("num_experts_per_tok",))
    ff: int = arg(REQUIRED, "int", "each expert's hidden width", aka=("moe_intermediate_size",))
    gated: bool = arg(True, "bool", "gate and up projections (SwiGLU), else one up projection")
    bias: bool = arg(False, "bool", "biases on each expert's projections (gpt-oss)")
    shared: int = arg(0, "int", "shared experts of the same width that every token runs", min=0)
    activation: str = arg(
        "silu", "choice", "the experts' activation", choices=("silu", "gelu", "relu", "swiglu"), counts=False
    )
    dtype: str = dtype_arg()

    kind, torch_name, primary, arity = "experts", "Experts", "experts", (1, 2)
    unexportable = "a mixture's experts have no torch.nn module here"
    routed = True
    formulas = {
        "output": "the hidden features' shape",
        "weights": "(experts + shared) · (3 if gated else 2) · features · ff",
        "bias": "(experts + shared) · ((2 if gated else 1) · ff + features) (when bias)",
        "active": "(top_k + shared) experts' parameters per token",
        "macs": "Π leading · (top_k + shared) · (3 if gated else 2) · features · ff",
    }

    def validate(self) -> None:
        if self.top_k > self.experts:
            raise FieldError("top_k", f"top_k={self.top_k} is more than experts={self.experts}")

    def output_shape(self, shapes: list[Shape]) -> Shape:
        expect_rank(shapes[0], RANKS, "(..., features)")
        if len(shapes) == 2 and tuple(shapes[1]) != (*shapes[0][:-1], self.experts):
            raise ShapeError(
                f"the router's scores must be {fmt_shape((*shapes[0][:-1], self.experts))} (one per token and "
                f"expert), found {fmt_shape(shapes[1])}"
            )
        return shapes[0]

    def _expert(self, features: int) -> Params:
        projections = 3 if self.gated else 2
        bias = ((2 if self.gated else 1) * self.ff + features) if self.bias else 0
        return Params(weights=projections * features * self.ff, bias=bias)

    def params(self, shapes: list[Shape]) -> Params:
        one, n = self._expert(shapes[0][-1]), self.experts + self.shared
        return Params(weights=n * one.weights, bias=n * one.bias)

    def inactive_params(self, shapes: list[Shape]) -> int:
        """The routed experts a token does not use: experts − top_k of them."""
        return (self.experts - self.top_k) * self._expert(shapes[0][-1]).params

    def param_tensors(self, shapes: list[Shape]) -> int:
        return 2 * (1 + self.bias) + (2 * (1 + self.bias) * (self.shared > 0))

    def macs(self, shapes: list[Shape], out: Shape) -> int:
        return prod(shapes[0][:-1]) * (self.top_k + self.shared) * self._expert(shapes[0][-1]).weights

    def saves(self, shapes: list[Shape], out: Shape, ctx: Context) -> Saved:
        """Per token and active expert its input, the gate and up projections and the activation's output,
        the down projection's input (an estimate: not measured against PyTorch)."""
        tokens = ctx.batch * prod(shapes[0][:-1])
        active = tokens * (self.top_k + self.shared)
        return Saved(
            inputs=(0,), tensors=((active * shapes[0][-1], "act"), (active * self.ff * (3 if self.gated else 2), "act"))
        )

    def reach(self, shapes: list[Shape], out: Shape) -> ReachOf:
        return SAME


KINDS = [Router, Experts]
