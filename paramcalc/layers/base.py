"""What every layer kind shares: declared fields, their validation, and the counting interface.

A kind is a frozen class declared like a dataclass, by `@kind_class`. Each field is declared with
`arg()`, which records its type, its PyTorch synonyms and its meaning, so one declaration drives
validation, `paramcalc kinds` and the JSON Schema.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, NamedTuple

from ..errors import FieldError, ShapeError, describe
from .binding import Call, Unexportable, call, kwargs

Shape = tuple[int, ...]
# What reach() returns: None, SAME, GLOBAL, or per trailing dim a Reach, SAME, GLOBAL or None
ReachOf = Any

REQUIRED = object()

# dtype name -> bytes per element, for param_bytes
DTYPE_BYTES = {
    "float64": 8,
    "double": 8,
    "float32": 4,
    "float": 4,
    "float16": 2,
    "half": 2,
    "bfloat16": 2,
    "int8": 1,
    "uint8": 1,
    "float8_e4m3fn": 1,
    "float8_e5m2": 1,
}


class Params(NamedTuple):
    """A layer's parameter and buffer counts."""

    weights: int = 0
    bias: int = 0
    buffers: int = 0

    @property
    def params(self) -> int:
        return self.weights + self.bias


class Saved(NamedTuple):
    """What a layer keeps for the backward pass in training mode, as PyTorch's autograd does.

    `inputs` and `output` name tensors that exist anyway (counted once however many layers keep them);
    `tensors` are new ones, each (elements across the whole batch, dtype), the dtype being "act" for
    the activation dtype or a torch dtype name. `alias`: the output shares input 0's storage (a view,
    or an in-place operation), so it allocates nothing.
    """

    inputs: tuple[int, ...] = ()
    output: bool = False
    tensors: tuple[tuple[int, str], ...] = ()
    alias: bool = False
    parameter: bool = False  # the output is a parameter, not an activation (never counted as one)
    # new tensors that every layer asking for the same key shares (one storage per step, e.g. RoPE's cos
    # and sin tables): each (key, elements, dtype)
    shared: tuple[tuple[object, int, str], ...] = ()
    # inputs kept as PyTorch reshapes them for its kernel (matmul folds the leading dims into one for bmm, a
    # linear layer all but the last for mm): each (input, the shape it is broadcast to, the shape it is folded
    # to), batch dim first. What is kept is a view of the input where its layout allows one, else a new copy
    # (see reshape_strides).
    folded: tuple[tuple[int, Shape, Shape], ...] = ()


class Context(NamedTuple):
    """What `saves` needs beyond shapes: the batch, the device (kernels differ: dropout keeps a
    one-byte mask on CUDA, a mask in the activation dtype on CPU) and the attention kernel
    ("flash": fused, no attention matrix; "math": the softmax output too)."""

    batch: int = 1
    device: str = "cuda"
    attention: str = "flash"


class Arg(NamedTuple):
    """How one field is read. `type` is one of the TYPES below."""

    type: str
    doc: str
    aka: tuple[str, ...] = ()
    min: int | None = 1
    choices: tuple[str, ...] = ()
    counts: bool = True  # False: accepted for PyTorch compatibility, changes no count


class _Field:
    """What `arg()` leaves in a class body until `@kind_class` collects it."""

    __slots__ = ("default", "arg")

    def __init__(self, default, arg: Arg):
        self.default, self.arg = default, arg


def arg(default: Any = REQUIRED, type: str = "int", doc: str = "", *, aka=(), min=1, choices=(), counts=True):
    return _Field(default, Arg(type, doc, tuple(aka), min, tuple(choices), counts))


def device_arg() -> Any:
    """The `device` field PyTorch's layers with parameters accept: read for compatibility, ignored."""
    return arg(None, "str", "ignored", counts=False)


def dtype_arg() -> Any:
    """The `dtype` field of layers with parameters: their dtype, for param_bytes (None: the spec's)."""
    return arg(None, "choice", "parameter dtype (param_bytes)", choices=tuple(DTYPE_BYTES))


def kind_class(cls):
    """Declares a kind's fields, as a frozen dataclass would: the annotated class attributes set
    with arg(), after those of its bases (a field declared again keeps its place; given a plain
    value, it is fixed and no longer a field). No code is generated per class (dataclasses
    compiles several methods per class, which made the ~100 kinds most of the import time);
    Layer's __init__ serves them all."""
    fields = dict(cls._args)
    defaults = dict(cls._defaults)
    annotations = cls.__dict__.get("__annotations__", {})
    for name, value in list(vars(cls).items()):
        if isinstance(value, _Field):
            if name not in annotations:
                raise TypeError(f"{cls.__name__}.{name} is declared with arg() but has no type annotation")
            fields[name], defaults[name] = value.arg, value.default
            setattr(cls, name, value.default)
        elif name in annotations and name in fields:
            del fields[name], defaults[name]
    cls._args, cls._defaults = fields, defaults
    synonyms = {}
    for name, a in fields.items():
        synonyms[name] = name
        synonyms.update(dict.fromkeys(a.aka, name))
    cls._synonyms = synonyms
    return cls


MAX_ELEMENTS = 2**63  # PyTorch sizes and element counts are int64


def declare(torch_name: str, base: type, doc: str, *, kind: str | None = None, **members: Any) -> Any:
    """A kind in one line, for families of kinds that differ only in values: a subclass of `base`
    named after PyTorch's class (its kind that name lowercased, unless given), with `members` as
    its arg() fields and class attributes (such as ndim)."""
    fields = [name for name, value in members.items() if isinstance(value, _Field)]
    namespace = {
        "kind": kind or torch_name.lower(),
        "torch_name": torch_name,
        "__doc__": doc,
        "__module__": base.__module__,
        "__annotations__": dict.fromkeys(fields, "object"),
        **members,
    }
    return kind_class(type(torch_name, (base,), namespace))


def _int(value, field, minimum, what="an integer"):
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError.of_value(field, f"expects {_int_word(minimum, what)}, found {describe(value)}")
    if minimum is not None and value < minimum:
        raise FieldError.of_value(field, f"expects {_int_word(minimum, what)}, found {value}")
    if abs(value) >= MAX_ELEMENTS:
        raise FieldError.of_value(
            field, f"expects {_int_word(minimum, what)} below 2^63 (PyTorch's int64), found {describe(value)}"
        )
    return value


def _int_word(minimum, what):
    return {1: "a positive integer", 0: "a non-negative integer"}.get(minimum, what)


def _size(value, field, minimum, n):
    """An int, or a list of exactly n ints (one per spatial dimension), as a tuple."""
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise FieldError.of_value(field, f"expects an integer or a list of {n}, found {describe(value)}")
        return tuple(_int(v, field, minimum) for v in value)
    return (_int(value, field, minimum),) * n


def _padding(value, field, minimum, n):
    if isinstance(value, str):
        if value.lower() in ("same", "valid"):
            return value.lower()
        raise FieldError.of_value(
            field, f"expects an integer, a list of {n}, 'same' or 'valid', found {describe(value)}"
        )
    return _size(value, field, 0, n)


def _bool(value, field, minimum, n):
    if not isinstance(value, bool):
        raise FieldError.of_value(field, f"expects true or false, found {describe(value)}")
    return value


def _float(value, field, minimum, n):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FieldError.of_value(field, f"expects a number, found {describe(value)}")
    return value


def _optional_size(value, field, minimum, n):
    """Adaptive pooling output: an int, or a list of n entries each an int or null (keep that size)."""
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise FieldError.of_value(field, f"expects an integer or a list of {n}, found {describe(value)}")
        return tuple(None if v is None else _int(v, field, 1) for v in value)
    return (_int(value, field, 1),) * n


def _dims(value, field, minimum, n):
    """Dims or sizes: a list of ints, or one int, always as a tuple (an int is a list of one)."""
    if isinstance(value, (list, tuple)):
        return tuple(_int(v, field, None) for v in value)
    return (_int(value, field, None),)


def _int_or_ints(value, field, minimum, n):
    """An int or a list of ints kept apart, where they mean different things: an int is split's piece
    size and a list its pieces; padding's or upsample's int is one for every side or dim (per_dim)."""
    if isinstance(value, (list, tuple)):
        return tuple(_int(v, field, None) for v in value)
    return _int(value, field, None)


def per_dim(value, n: int) -> tuple:
    """An int_or_ints (or floats) value per dim: a list as given, an int (or a number) repeated n times."""
    return value if isinstance(value, tuple) else (value,) * n


def _floats(value, field, minimum, n):
    if isinstance(value, (list, tuple)):
        return tuple(_float(v, field, minimum, n) for v in value)
    return _float(value, field, minimum, n)


def _str(value, field, minimum, n):
    if not isinstance(value, str):
        raise FieldError.of_value(field, f"expects a string, found {describe(value)}")
    return value


TYPES = {
    "int": lambda v, f, m, n: _int(v, f, m),
    "size": _size,
    "padding": _padding,
    "bool": _bool,
    "float": _float,
    "optional_size": _optional_size,
    "dims": _dims,
    "int_or_ints": _int_or_ints,
    "floats": _floats,
    "str": _str,
    "choice": _str,
}


def normalize_dim(dim: int, shape: Shape, field: str = "dim") -> int:
    """A PyTorch dim (batch = dim 0, negatives from the end) -> an index into the per-sample shape."""
    rank = len(shape) + 1
    full = dim + rank if dim < 0 else dim
    if not 0 <= full < rank:
        raise ShapeError(
            f"{field}={dim} is out of range for an input of {rank} dimensions (batch + {fmt_shape(shape)})"
        )
    if full == 0:
        raise ShapeError(
            f"{field}={dim} is the batch dimension; shapes are per sample, so "
            f"dims count from 1 (dim 1 = the first per-sample dimension)"
        )
    return full - 1


def fmt_shape(shape) -> str:
    return "[" + ", ".join("?" if s is None else str(s) for s in shape) + "]"


_BUILT: dict[tuple, Layer] = {}  # (kind, field values) -> the layer built from them
MAX_BUILT = 100_000  # distinct layers remembered; beyond, the memo starts again
_SCALARS = (int, bool, str, type(None))


def values_key(cls, values: dict[str, Any]) -> tuple | None:
    """A key that tells field values apart exactly as build reads them (true, 1 and 1.0 differ),
    or None when a value is not a scalar or a list of scalars (nothing is remembered then)."""
    key = [cls]
    for name, value in values.items():
        kind = type(value)
        if kind in _SCALARS:
            key += (name, kind, value)
        elif kind is float:
            key += (name, kind, repr(value))  # repr tells -0.0 from 0.0
        elif isinstance(value, (list, tuple)):
            items: list = []
            for item in value:
                item_kind = type(item)
                if item_kind in _SCALARS:
                    items += (item_kind, item)
                elif item_kind is float:
                    items += (item_kind, repr(item))
                else:
                    return None
            key += (name, list, tuple(items))
        else:
            return None
    return tuple(key)


class Layer:
    """Base of every kind. Subclasses are declared with `@kind_class` and built by `Layer.build`."""

    kind: ClassVar[str]
    torch_name: ClassVar[str]
    primary: ClassVar[str | None] = None
    arity: ClassVar[tuple[int, int | None]] = (1, 1)  # fewest and most inputs (None: no limit)
    ndim: ClassVar[int] = 1  # spatial dims, for per-dimension fields
    layout: ClassVar[str] = ""  # the per-sample input it expects, e.g. "(C, H, W)", for messages
    formulas: ClassVar[dict[str, str]] = {}
    routed: ClassVar[bool] = False  # some parameters are not used by every token (experts): see inactive_params
    composite: ClassVar[bool] = False  # made of inner layers (a transformer layer): see inner()
    # computed by PyTorch's elementwise kernels (TensorIterator), whose new output is laid out as its inputs
    # are (a permuted input gives a permuted output: see elementwise_strides); else a new output is row-major
    elementwise: ClassVar[bool] = False
    # under torch.autocast (autocast.py): "lower" (on its lower-precision list: runs in 16 bits), "fp32_on_cuda"
    # (on its float32 list, CUDA's only), "float32_output" (float32 weights out as they are), "promote" (type promotion)
    autocast: ClassVar[str] = "promote"
    # its role under tensor parallelism (parallel.py, quant.py): "norm" (replicated; it normalises the residual
    # width), "replicated" (activations whole on every rank), "vocabulary" (an embedding's rows split),
    # "projection" (a linear: column- or row-parallel), "heads" (attention's); None: replicated, activations split
    tensor_parallel: ClassVar[str | None] = None
    # Defaults of fields only some kinds declare (a kind's own arg() field overrides them).
    dtype: str | None = None  # parameter dtype; None: the spec's
    requires_grad: bool = True
    _args: ClassVar[dict[str, Arg]] = {}
    _defaults: ClassVar[dict[str, Any]] = {}
    _synonyms: ClassVar[dict[str, str]] = {}
    # Its PyTorch binding (read by paramcalc/export; helpers in binding.py): see torch_module and torch_forward.
    torch_classes: ClassVar[dict[str, str]] = {}  # classes the export defines for it: name -> Python source
    torch_tensor: ClassVar[bool] = False  # a tensor (parameter, buffer): torch_register and torch_read
    torch_writes_shape: ClassVar[bool] = False  # forward writes out_shape: in a block's class, an argument
    torch_equal_batches: ClassVar[bool] = False  # its inputs need one batch size: a parameter's is expanded
    unexportable: ClassVar[str] = ""  # why the kind has no PyTorch binding (export refuses it)

    def __init__(self, **values):
        unknown = values.keys() - self._defaults.keys()
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {', '.join(sorted(unknown))}")
        missing = [name for name, default in self._defaults.items() if default is REQUIRED and name not in values]
        if missing:
            raise TypeError(f"{type(self).__name__} needs {', '.join(missing)}")
        self.__dict__.update(self._defaults)
        self.__dict__.update(values)

    def __setattr__(self, name, value):
        raise AttributeError(f"cannot assign to field '{name}': a layer is frozen")

    def __delattr__(self, name):
        raise AttributeError(f"cannot delete field '{name}': a layer is frozen")

    def __repr__(self) -> str:
        values = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.fields())
        return f"{type(self).__name__}({values})"

    @classmethod
    def fields(cls) -> dict[str, Arg]:
        return cls._args

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return cls._defaults

    @classmethod
    def synonyms(cls) -> dict[str, str]:
        """Every accepted spelling (canonical and PyTorch's) -> canonical field name."""
        return cls._synonyms

    @classmethod
    def build(cls, values: dict[str, Any]) -> Layer:
        """Validate canonical field values (None = default) and construct the layer. A layer is
        frozen, so the same kind and values give the one layer already built from them: a repeated
        block validates each of its layers once."""
        key = values_key(cls, values)
        layer = _BUILT.get(key) if key is not None else None
        if layer is None:
            layer = cls._validated(values)
            if key is not None:
                if len(_BUILT) >= MAX_BUILT:
                    _BUILT.clear()
                _BUILT[key] = layer
        return layer

    @classmethod
    def _validated(cls, values: dict[str, Any]) -> Layer:
        coerced: dict[str, Any] = {}
        defaults = cls.defaults()
        for name, a in cls.fields().items():
            value = values.get(name)
            if value is None:
                value = defaults[name]
                if value is REQUIRED:
                    raise FieldError(name, f"needs field '{name}' ({a.doc})")
                if value is None:
                    coerced[name] = None
                    continue
            if a.type == "choice" and value not in a.choices:
                choices = ", ".join(repr(c) for c in a.choices)
                raise FieldError.of_value(name, f"expects one of {choices}, found {describe(value)}")
            coerced[name] = TYPES[a.type](value, name, a.min, cls.ndim)
        layer = cls(**coerced)
        layer.validate()
        return layer

    def validate(self) -> None:
        """Checks across fields; raise FieldError naming the offending field."""

    def output_shape(self, shapes: list[Shape]) -> Shape:
        raise NotImplementedError

    def params(self, shapes: list[Shape]) -> Params:
        return Params()

    def macs(self, shapes: list[Shape], out: Shape) -> int:
        return 0

    def weight_shape(self, shapes: list[Shape]) -> Shape | None:
        """The shape of the weight a `tie:` can share; None for kinds without one."""
        return None

    def inner(self, shapes: list[Shape]) -> list:
        """A composite's inner layers, in order (each an attention.Inner: name, layer, inputs)."""
        raise NotImplementedError

    @classmethod
    def has_weight(cls) -> bool:
        return cls.weight_shape is not Layer.weight_shape

    def saves(self, shapes: list[Shape], out: Shape, ctx: Context) -> Saved:
        """What autograd keeps for backward (see Saved). The default keeps nothing and writes a new
        output, as add, concat, mean, zero padding and upsampling do."""
        return Saved()

    def view_strides(self, shape: Shape, strides: Shape, out: Shape) -> Shape | None:
        """For a kind whose output shares input 0's storage (Saved.alias): the output's strides from input
        0's shape and strides (all with the batch dim first), or None where PyTorch cannot make a view and
        copies instead. The default: laid out as the input (in place, a slice)."""
        return strides

    def param_tensors(self, shapes: list[Shape]) -> int:
        """Parameter tensors (a weight, a bias): optimizers keep a `step` per tensor."""
        counts = self.params(shapes)
        return (counts.weights > 0) + (counts.bias > 0)

    def kv_cache(self, shapes: list[Shape]) -> int:
        """Elements of keys and values cached per sample and per position when decoding (attention)."""
        return 0

    def inactive_params(self, shapes: list[Shape]) -> int:
        """Parameters a token does not use (a mixture's unrouted experts), for routed kinds: active = params − these."""
        return 0

    def kv_cache_elements(self, shapes: list[Shape], positions: int) -> int:
        """Elements of keys and values cached per sample for `positions` decoded positions."""
        return self.kv_cache(shapes) * positions

    def torch_module(self, in_shapes: list[Shape]) -> Call | None:
        """The nn.Module constructor call that builds this layer, or None for a kind that is an
        operation in forward (torch_forward) or a tensor (torch_tensor). The default: the kind's
        torch_name in nn with every field as a keyword (activations, dropouts, pads, ...)."""
        if self.torch_tensor or type(self).torch_forward is not Layer.torch_forward:
            return None
        name = self.torch_name
        if self.unexportable or not name.isidentifier():
            raise Unexportable(self.kind)
        return call(name, [], kwargs(self))

    def torch_forward(self, args: list[str], in_shapes: list[Shape], out_shape: Shape) -> str | None:
        """For an operation kind, the expression forward computes from its inputs' variables `args`
        (batch-first tensors); None for a module kind."""
        return None

    def torch_register(self, parent: str, name: str, out_shape: Shape, token_ids: bool) -> Call:
        """For a tensor kind (torch_tensor): the call that registers it on its parent module (source
        `parent`) as `name` (a repr()'d string); `token_ids` where an embedding reads it."""
        raise NotImplementedError(self.kind)

    def torch_read(self, tensor: str) -> str:
        """For a tensor kind: how forward reads it, from the source that reaches it."""
        return tensor

    def torch_call(self, module: str, args: list[str], in_shapes: list[Shape]) -> str:
        """How forward calls this layer's module (source `module`) on its inputs' variables."""
        return f"{module}({', '.join(args)})"

    def reach(self, shapes: list[Shape], out: Shape) -> ReachOf:
        """Where each output position reads its inputs, for receptive fields (paramcalc/receptive.py):
        None (the default) when positions are not kept, as by flatten or an LSTM; SAME when each
        output position reads the same position of every input (elementwise work, normalisation,
        merges); GLOBAL when it reads every position (attention); Moved when it only reorders dims
        (permute); or one entry per trailing dim it reads, each a Reach, SAME or GLOBAL (or None
        where the pattern is too long to follow)."""
        return None


SAME, GLOBAL = "same", "global"


MAX_PERIOD = 4096  # of a Reach: a longer pattern (resampling by an odd ratio) goes untracked


class Moved(NamedTuple):
    """A reach that reorders dims: output sample dim i is input sample dim order[i]."""

    order: tuple[int, ...]


class Reach(NamedTuple):
    """Which input positions an output position reads along one dim: output o reads
    lo[o % period] .. hi[o % period], both moved by (o // period)·shift; None where it reads
    nothing (between a transposed convolution's taps)."""

    period: int
    shift: int
    lo: tuple
    hi: tuple

    @classmethod
    def window(cls, kernel: int, stride: int, padding: int, dilation: int = 1) -> Reach:
        return cls(1, stride, (-padding,), (dilation * (kernel - 1) - padding,))

    @classmethod
    def transposed(cls, kernel: int, stride: int, padding: int, dilation: int = 1) -> Reach | None:
        """Output o = i·stride − padding + dilation·m gathers input i through tap m."""
        if stride > MAX_PERIOD or stride * kernel > 64 * MAX_PERIOD:  # each tap of each phase is visited
            return None
        lo, hi = [], []
        for r in range(stride):
            reads = [
                (r + padding - dilation * m) // stride
                for m in range(kernel)
                if (r + padding - dilation * m) % stride == 0
            ]
            lo.append(min(reads) if reads else None)
            hi.append(max(reads) if reads else None)
        return cls(stride, 1, tuple(lo), tuple(hi))

    @classmethod
    def table(cls, inputs: int, outputs: int, first, last) -> Reach | None:
        """A resampling whose output o reads first(o) .. last(o), `inputs` input positions passing
        for every `outputs` output positions (so the pattern repeats every outputs / gcd outputs)."""
        common = math.gcd(inputs, outputs)
        period = outputs // common
        if period > MAX_PERIOD:
            return None
        return cls(
            period, inputs // common, tuple(first(o) for o in range(period)), tuple(last(o) for o in range(period))
        )


def check_declared(declared: int | None, actual: int, field: str) -> None:
    """A size pasted from PyTorch code (in_channels=3) must agree with the inferred one."""
    if declared is not None and declared != actual:
        raise ShapeError(f"{field}={declared} was given, but the input has {actual}")


def expect_rank(shape: Shape, ranks: tuple[int, ...], layout: str) -> None:
    if len(shape) not in ranks:
        raise ShapeError(
            f"expects a per-sample input of {_ranks_text(ranks, len(shape))} {layout}, "
            f"found {fmt_shape(shape)} ({_dimensions(len(shape))})"
        )


def _dimensions(n: int) -> str:
    return f"{n} dimension" + ("" if n == 1 else "s")


def _ranks_text(ranks: tuple[int, ...], found: int) -> str:
    """The ranks a layer takes, said by the bound the input misses: 'at least 1 dimension' (for
    1 to 8, found a scalar), 'at most 8 dimensions', '3 dimensions', '2 or 3 dimensions'."""
    low, high = min(ranks), max(ranks)
    if len(ranks) > 2 and ranks == tuple(range(low, high + 1)):
        return f"at least {_dimensions(low)}" if found < low else f"at most {_dimensions(high)}"
    return " or ".join(str(r) for r in ranks[:-1]) + (" or " if len(ranks) > 1 else "") + _dimensions(ranks[-1])


def check_kv_heads(heads: int, kv_heads: int | None) -> None:
    """Grouped-query attention: each key/value head serves heads / kv_heads query heads."""
    if kv_heads is not None and heads % kv_heads:
        raise FieldError(
            "kv_heads",
            f"kv_heads={kv_heads} must divide heads={heads} (each key/value head serves heads / kv_heads query heads)",
        )


def prod(values) -> int:
    return math.prod(values)


def contiguous_strides(shape: Shape) -> Shape:
    """Row-major strides, as PyTorch lays out a new tensor."""
    strides, step = [], 1
    for size in reversed(shape):
        strides.append(step)
        step *= size
    return tuple(reversed(strides))


def reshape_strides(shape: Shape, strides: Shape, new: Shape) -> Shape | None:
    """The strides of `new` as a view of a tensor of `shape` and `strides`, or None when no view can hold
    it and reshape copies: ATen's computeStride. Dims of size 1 never matter, so a permutation that only
    moves them reshapes to a view; a reshape may merge dims only where they are laid out one after the
    other (stride[i] = stride[i+1] · size[i+1]), and split any dim."""
    if not shape:
        return contiguous_strides(new)
    result = [0] * len(new)
    view_d = len(new) - 1
    chunk_stride, tensor_numel, view_numel = strides[-1], 1, 1
    for d in range(len(shape) - 1, -1, -1):
        tensor_numel *= shape[d]
        if d == 0 or (shape[d - 1] != 1 and strides[d - 1] != tensor_numel * chunk_stride):
            while view_d >= 0 and (view_numel < tensor_numel or new[view_d] == 1):
                result[view_d] = view_numel * chunk_stride
                view_numel *= new[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return None
            if d > 0:
                chunk_stride, tensor_numel, view_numel = strides[d - 1], 1, 1
    return tuple(result) if view_d == -1 else None


def broadcast_strides(shape: Shape, strides: Shape, target: Shape) -> Shape:
    """Tensor.expand to `target` (same rank): a size-1 dim that grows gets stride 0."""
    return tuple(0 if size == 1 != want else stride for size, want, stride in zip(shape, target, strides))


def elementwise_strides(out: Shape, inputs: list[tuple[Shape, Shape]]) -> Shape:
    """The strides TensorIterator gives an elementwise kernel's new output, from its inputs' (shape,
    strides), each broadcast to `out`: the dims ordered as the inputs' strides order them (the first
    input that tells two dims apart decides; a broadcast dim tells nothing; of equal strides the smaller
    dim goes inside), then laid out densely in that order."""
    operands = [broadcast_strides(shape, strides, out) for shape, strides in inputs if len(shape) == len(out)]

    def should_swap(inner: int, outer: int) -> int:
        for strides in operands:
            a, b = strides[inner], strides[outer]
            if a and b and a != b:
                return 1 if a > b else -1
            if a and b and out[inner] > out[outer]:
                return 1
        return 0

    order = list(range(len(out) - 1, -1, -1))  # innermost first; an insertion sort, as TensorIterator's
    for i in range(1, len(order)):
        moving = i
        for j in range(i - 1, -1, -1):
            swap = should_swap(order[j], order[moving])
            if swap > 0:
                order[j], order[moving] = order[moving], order[j]
                moving = j
            elif swap < 0:
                break
    result = [0] * len(out)
    step = 1
    for d in order:
        result[d] = step
        step *= out[d]
    return tuple(result)
