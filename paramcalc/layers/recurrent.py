"""Recurrent layers: rnn, lstm, gru on a (seq, features) sample (batch-first semantics)."""

from __future__ import annotations

from ..errors import FieldError
from .base import (  # for annotations
    REQUIRED,
    Context,
    Layer,
    Params,
    Saved,
    Shape,
    arg,
    check_declared,
    device_arg,
    dtype_arg,
    expect_rank,
    kind_class,
)
from .binding import BATCH_FIRST, Call, call, first_output, hole, kwargs


@kind_class
class _Recurrent(Layer):
    hidden: int = arg(REQUIRED, "int", "hidden state size H", aka=("hidden_size",))
    layers: int = arg(1, "int", "stacked layers", aka=("num_layers",))
    bias: bool = arg(True, "bool", "learn the two bias vectors (input and hidden) of every gate")
    bidirectional: bool = arg(False, "bool", "a second, backward direction per layer (D = 2)")
    dropout: float = arg(0.0, "float", "dropout between layers", counts=False)
    batch_first: bool = arg(
        False,
        "bool",
        "PyTorch's (batch, seq, features) layout (shapes here are per sample); "
        "in training a batch above 1 is then copied to (seq, batch, features)",
    )
    input_size: int = arg(
        None, "int", "input features: inferred from the input; if given, checked against it", counts=False
    )
    device: str = device_arg()
    dtype: str = dtype_arg()

    def torch_module(self, in_shapes: list[Shape]) -> Call | None:
        sizes = [hole(in_shapes[0][-1], "input_size"), hole(self.hidden, "hidden_size")]
        return call(self.torch_name, sizes, [*kwargs(self, ("hidden",)), BATCH_FIRST])

    def torch_call(self, module: str, args: list[str], in_shapes: list[Shape]) -> str:
        return first_output(module, args)  # the output, not the final state

    primary = "hidden"
    gates = 1
    proj = 0
    kept = (1, 1)  # hidden-sized tensors backward keeps per direction: (per time step, once) (measured)
    formulas = {
        "output": "(seq, D · H_out), H_out = proj or hidden, D = 2 if bidirectional",
        "weights": "Σ layers, directions: G·H·I_l + G·H·H_out (+ proj·H), I_0 = features, I_l = D·H_out",
        "bias": "Σ layers, directions: 2·G·H (PyTorch keeps an input and a hidden bias)",
        "macs": "seq · Σ layers, directions: (G·H·I_l + G·H·H_out + proj·H)",
    }

    def validate(self) -> None:
        if not 0 <= self.dropout <= 1:
            raise FieldError.of_value("dropout", f"expects a probability between 0 and 1, found {self.dropout}")

    @property
    def out_size(self) -> int:
        return self.proj or self.hidden

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    def _per_step(self, features: int):
        """(weights, bias) summed over layers and directions, for one time step."""
        g, h, out = self.gates, self.hidden, self.out_size

        def layer_weights(inputs):
            return self.directions * (g * h * inputs + g * h * out + self.proj * h)

        # The first layer reads the features, the others the previous layer's output (in closed
        # form: `layers` may be huge in a hostile spec).
        weights = layer_weights(features) + (self.layers - 1) * layer_weights(self.directions * out)
        bias = self.layers * self.directions * (2 * g * h if self.bias else 0)
        return weights, bias

    def output_shape(self, shapes: list[Shape]) -> Shape:
        shape = shapes[0]
        expect_rank(shape, (2,), "(seq, features)")
        check_declared(self.input_size, shape[1], "input_size")
        return (shape[0], self.directions * self.out_size)

    def params(self, shapes: list[Shape]) -> Params:
        weights, bias = self._per_step(shapes[0][1])
        return Params(weights=weights, bias=bias)

    def macs(self, shapes: list[Shape], out: Shape) -> int:
        return shapes[0][0] * self._per_step(shapes[0][1])[0]

    def param_tensors(self, shapes: list[Shape]) -> int:
        per_direction = 2 + (1 if self.proj else 0) + (2 if self.bias else 0)  # w_ih, w_hh, w_hr, b_ih, b_hh
        return self.layers * self.directions * per_direction

    def saves(self, shapes: list[Shape], out: Shape, ctx: Context) -> Saved:
        """As PyTorch's unfused kernels (the CPU reference) keep them, step by step: each layer's input
        (the first layer's is the layer's input, copied by each direction when batch_first and batch > 1;
        later ones a new tensor, and the dropout mask between layers), and per layer and direction the
        hidden-sized tensors of `kept`.
        Fused kernels (cuDNN, oneDNN) keep a workspace of their own instead."""
        b, (steps, features) = ctx.batch, shapes[0]
        copied = self.batch_first and b > 1
        tensors = [(b * steps * features, "act")] * self.directions if copied else []  # one per direction
        between = b * steps * self.directions * self.out_size
        per_step, once = self.kept
        # Every layer's tensors are its own, so those of all layers are counted as one of each kind
        # (`layers` may be large: a list per layer would be as long).
        later = self.layers - 1
        tensors.append((self.layers * self.directions * b * self.hidden * (per_step * steps + once), "act"))
        if later:
            tensors.append((later * between, "act"))
            if self.dropout:
                tensors.append((later * between, "bool" if ctx.device == "cuda" else "act"))
        return Saved(inputs=() if copied else (0,), tensors=tuple(tensors))


@kind_class
class RNN(_Recurrent):
    """Elman RNN: h' = nonlinearity(W_ih·x + b_ih + W_hh·h + b_hh)."""

    nonlinearity: str = arg("tanh", "choice", "the activation", choices=("tanh", "relu"), counts=False)
    kind, torch_name = "rnn", "RNN"


@kind_class
class LSTM(_Recurrent):
    """Long short-term memory: 4 gates (G = 4); proj > 0 projects the hidden state to proj features."""

    proj: int = arg(0, "int", "projection size (0: none); must be smaller than hidden", aka=("proj_size",), min=0)
    kind, torch_name, gates, kept = "lstm", "LSTM", 4, (7, 0)

    def validate(self) -> None:
        super().validate()
        if self.proj >= self.hidden:
            raise FieldError("proj", f"proj must be smaller than hidden ({self.hidden}), found {self.proj}")


@kind_class
class GRU(_Recurrent):
    """Gated recurrent unit: 3 gates (G = 3)."""

    kind, torch_name, gates, kept = "gru", "GRU", 3, (7, 0)


KINDS = [RNN, LSTM, GRU]
