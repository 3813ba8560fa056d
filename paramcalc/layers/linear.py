"""Fully connected layers, matrix products, embeddings, and free tensors (parameters, buffers)."""

from __future__ import annotations

from ..errors import FieldError, ShapeError
from .base import (  # for annotations
    GLOBAL,
    REQUIRED,
    Context,
    Layer,
    Params,
    ReachOf,
    Saved,
    Shape,
    arg,
    check_declared,
    device_arg,
    dtype_arg,
    expect_rank,
    fmt_shape,
    kind_class,
    prod,
)
from .binding import Call, Kw, call, dtype, hole, kwargs, q


@kind_class
class Linear(Layer):
    """y = x·Wᵀ + b on the last dimension; any leading dimensions are kept."""

    out: int = arg(REQUIRED, "int", "output features", aka=("out_features",))
    bias: bool = arg(True, "bool", "learn an additive bias")
    device: str = device_arg()
    dtype: str = dtype_arg()
    in_features: int = arg(
        None, "int", "input features: inferred from the input; if given, checked against it", counts=False
    )

    kind, torch_name, primary = "linear", "Linear", "out"
    autocast, tensor_parallel = "lower", "projection"
    formulas = {
        "output": "(*leading, out)",
        "weights": "in · out",
        "bias": "out (when bias)",
        "macs": "Π leading · in · out",
    }

    def output_shape(self, shapes: list[Shape]) -> Shape:
        (shape,) = shapes
        expect_rank(shape, tuple(range(1, 9)), "(..., features)")
        check_declared(self.in_features, shape[-1], "in_features")
        return (*shape[:-1], self.out)

    def params(self, shapes: list[Shape]) -> Params:
        return Params(weights=shapes[0][-1] * self.out, bias=self.out if self.bias else 0)

    def macs(self, shapes: list[Shape], out: Shape) -> int:
        return prod(shapes[0]) * self.out

    def reach(self, shapes: list[Shape], out: Shape) -> ReachOf:
        return (GLOBAL,)  # every output feature reads the whole last dim

    def weight_shape(self, shapes: list[Shape]) -> Shape | None:
        return (self.out, shapes[0][-1])

    def saves(self, shapes: list[Shape], out: Shape, ctx: Context) -> Saved:
        # the input, for the weight's gradient, as mm takes it: all dims but the last folded into one (a copy
        # of an input whose layout cannot fold, such as a transposed one)
        full = (ctx.batch, *shapes[0])
        return Saved(folded=((0, full, (prod(full[:-1]), full[-1])),))

    def torch_module(self, in_shapes: list[Shape]) -> Call | None:
        sizes = [hole(in_shapes[0][-1], "in_features"), hole(self.out, "out_features")]
        return call(self.torch_name, sizes, kwargs(self, ("out",)))


@kind_class
class Embedding(Layer):
    """A lookup table: each index of the input (any shape of token ids) becomes a learned vector."""

    num: int = arg(REQUIRED, "int", "table size (vocabulary)", aka=("num_embeddings",))
    dim: int = arg(REQUIRED, "int", "vector size", aka=("embedding_dim",))
    padding_idx: int = arg(None, "int", "an index whose vector gets no gradient", min=None, counts=False)
    max_norm: float = arg(None, "float", "renormalise vectors above this norm", counts=False)
    norm_type: float = arg(2.0, "float", "p of the max_norm norm", counts=False)
    scale_grad_by_freq: bool = arg(False, "bool", "ignored", counts=False)
    sparse: bool = arg(False, "bool", "sparse gradients", counts=False)
    device: str = device_arg()
    dtype: str = dtype_arg()

    kind, torch_name = "embedding", "Embedding"
    autocast, tensor_parallel = "float32_output", "vocabulary"
    formulas = {"output": "(*input, dim)", "weights": "num · dim", "bias": "0", "macs": "0 (a lookup)"}

    def validate(self) -> None:
        if self.padding_idx is not None and not -self.num <= self.padding_idx < self.num:
            raise FieldError(
                "padding_idx",
                f"padding_idx must be within the table (-{self.num} to {self.num - 1}), found {self.padding_idx}",
            )

    def output_shape(self, shapes: list[Shape]) -> Shape:
        return (*shapes[0], self.dim)

    def params(self, shapes: list[Shape]) -> Params:
        return Params(weights=self.num * self.dim)

    def weight_shape(self, shapes: list[Shape]) -> Shape | None:
        return (self.num, self.dim)

    def saves(self, shapes: list[Shape], out: Shape, ctx: Context) -> Saved:
        return Saved(inputs=(0,))  # the indices

    def torch_module(self, in_shapes: list[Shape]) -> Call | None:
        sizes = [hole(self.num, "num_embeddings"), hole(self.dim, "embedding_dim")]
        return call(self.torch_name, sizes, kwargs(self, ("num", "dim")))


@kind_class
class EmbeddingBag(Embedding):
    """Sums, averages or maxes the vectors of a bag of indices: a (N) sample becomes (dim)."""

    mode: str = arg("mean", "choice", "how a bag is reduced", choices=("sum", "mean", "max"), counts=False)
    include_last_offset: bool = arg(False, "bool", "ignored", counts=False)

    kind, torch_name = "embeddingbag", "EmbeddingBag"
    formulas = {"output": "(dim)", "weights": "num · dim", "bias": "0", "macs": "0 (a lookup)"}

    def output_shape(self, shapes: list[Shape]) -> Shape:
        expect_rank(shapes[0], (1,), "(N) indices per sample")
        return (self.dim,)


class _Declared(Layer):
    """A tensor with no input, of the shape its `shape` field declares."""

    shape: tuple[int, ...]
    torch_tensor = True
    autocast = "float32_output"

    def validate(self) -> None:
        if any(d < 1 for d in self.shape):
            raise FieldError.of_value("shape", f"expects positive sizes, found {list(self.shape)}")

    def output_shape(self, shapes: list[Shape]) -> Shape:
        return self.shape


@kind_class
class Parameter(_Declared):
    """A learned tensor with no input, such as a class token or a position embedding, used by name
    in a merge (`concat`, `add`). Give the per-sample shape: a PyTorch parameter (1, 197, 768) that
    broadcasts over the batch is `parameter: [197, 768]`. It does not interrupt the layer flow."""

    shape: tuple[int, ...] = arg(REQUIRED, "dims", "the per-sample shape")
    requires_grad: bool = arg(True, "bool", "false: counted as non-trainable")
    dtype: str = dtype_arg()

    kind, torch_name, primary, arity = "parameter", "nn.Parameter", "shape", (0, 0)
    formulas = {"output": "shape", "weights": "Π shape", "bias": "0", "macs": "0"}

    def params(self, shapes: list[Shape]) -> Params:
        return Params(weights=prod(self.output_shape(shapes)))

    def weight_shape(self, shapes: list[Shape]) -> Shape | None:
        return self.output_shape(shapes)

    def saves(self, shapes: list[Shape], out: Shape, ctx: Context) -> Saved:
        return Saved(parameter=True)

    def torch_register(self, parent: str, name: str, out_shape: Shape, token_ids: bool) -> Call:
        """`parent.register_parameter(name, ...)`: zeros with a batch dim of 1 (it broadcasts)."""
        sizes: list = [hole(size, "size") for size in (1, *out_shape)]
        if self.dtype:
            sizes.append(Kw("dtype", dtype(self.dtype)))
        grad = [] if self.requires_grad else [Kw("requires_grad", "False")]
        return Call(f"{parent}.register_parameter", [name, Call("nn.Parameter", [Call("torch.zeros", sizes), *grad])])


@kind_class
class MatMul(Layer):
    """torch.matmul of two inputs, `from: [a, b]`: (..., n, k) @ (..., k, m) -> (..., n, m). The per-sample
    shapes have the same rank; their leading dims broadcast (each equal, or 1). With transpose, softmax
    and mul this writes any attention by hand (QKᵀ, attention·V)."""

    kind, torch_name, arity = "matmul", "torch.matmul", (2, 2)
    autocast = "lower"
    formulas = {
        "output": "(*broadcast leading, n, m)",
        "weights": "0",
        "bias": "0",
        "macs": "Π broadcast leading · n · k · m (as FlopCounterMode counts aten.bmm, halved)",
    }
    ranks = tuple(range(2, 9))
    layout = "(..., rows, columns)"

    def output_shape(self, shapes: list[Shape]) -> Shape:
        a, b = shapes
        for shape in shapes:
            expect_rank(shape, self.ranks, self.layout)
        if len(a) != len(b):
            raise ShapeError(f"inputs must have the same number of dims, found {fmt_shape(a)} and {fmt_shape(b)}")
        if a[-1] != b[-2]:
            raise ShapeError(
                f"inner dims must match: {fmt_shape(a)} @ {fmt_shape(b)} multiplies a last dim of "
                f"{a[-1]} with a second-to-last dim of {b[-2]}"
            )
        leading = []
        for x, y in zip(a[:-2], b[:-2]):
            if x != y and 1 not in (x, y):
                raise ShapeError(
                    f"leading dims do not broadcast (each must match or be 1), found {fmt_shape(a)} and {fmt_shape(b)}"
                )
            leading.append(max(x, y))
        return (*leading, a[-2], b[-1])

    def macs(self, shapes: list[Shape], out: Shape) -> int:
        return prod(out) * shapes[0][-1]

    def torch_forward(self, args: list[str], in_shapes: list[Shape], out_shape: Shape) -> str | None:
        return f"torch.matmul({args[0]}, {args[1]})"  # for bmm too: a parameter's batch of 1 broadcasts

    def reach(self, shapes: list[Shape], out: Shape) -> ReachOf:
        # None: its last two dims are rows and columns (mixed whole), not positions, and its
        # operands read different dims (a's rows, b's columns), which one reach cannot say
        return None

    def saves(self, shapes: list[Shape], out: Shape, ctx: Context) -> Saved:
        """Each operand, for the other's gradient, as bmm takes it: torch.matmul broadcasts the leading dims
        (batch included) and folds them into one, which copies an operand that no view can fold (broadcast
        along some of them and not others, or permuted: measured in tests/fixtures/memory.json)."""
        leading = (ctx.batch, *out[:-2])
        return Saved(
            folded=tuple((i, (*leading, *shape[-2:]), (prod(leading), *shape[-2:])) for i, shape in enumerate(shapes))
        )


class BMM(MatMul):
    """torch.bmm: a (n, k) @ (k, m) product per sample, as matmul without leading dims."""

    kind, torch_name = "bmm", "torch.bmm"
    ranks, layout = (2,), "(rows, columns)"


@kind_class
class Buffer(_Declared):
    """A declared tensor that is state, not a parameter (register_buffer), such as Swin's
    relative_position_index: counted in buffers. Like `parameter`, it has no input, can be used by
    name (`from:`), and does not interrupt the layer flow. Give its whole shape."""

    shape: tuple[int, ...] = arg(REQUIRED, "dims", "the buffer's shape")
    persistent: bool = arg(True, "bool", "in the state_dict or not; counted either way", counts=False)

    kind, torch_name, primary, arity = "buffer", "register_buffer", "shape", (0, 0)
    formulas = {"output": "shape", "weights": "0", "bias": "0", "buffers": "Π shape", "macs": "0"}

    def params(self, shapes: list[Shape]) -> Params:
        return Params(buffers=prod(self.output_shape(shapes)))

    def saves(self, shapes: list[Shape], out: Shape, ctx: Context) -> Saved:
        return Saved(parameter=True)  # state, not an activation: autograd never keeps it as one

    def torch_register(self, parent: str, name: str, out_shape: Shape, token_ids: bool) -> Call:
        """`parent.register_buffer(name, ...)`: zeros of its whole shape; long where an embedding reads
        it (position and token-type ids: zeros are valid indices)."""
        shape = self.shape if isinstance(self.shape, tuple) else (self.shape,)
        zeros = Call("torch.zeros", [hole(shape, "shape"), *([Kw("dtype", "torch.long")] if token_ids else [])])
        return Call(f"{parent}.register_buffer", [name, zeros, Kw("persistent", q(self.persistent))])

    def torch_read(self, tensor: str) -> str:
        return tensor + "[None]"  # a batch of one, as a parameter's


KINDS = [Linear, Embedding, EmbeddingBag, Parameter, MatMul, BMM, Buffer]
