"""Regenerates tests/fixtures/memory.json: what PyTorch keeps for backward, and what optimizers keep.

The zoo needs torchvision, which does not import beside the torch==2.13.0 oracle, so this runs in the
venv of generate_zoo_fixture.py:

    /work/tv/bin/python tests/generate_memory_fixture.py

Saved activations: the model in train() mode, float32, on the CPU, run inside
torch.autograd.graph.saved_tensors_hooks; the bytes of every distinct storage packed during the forward
pass, parameters and buffers left out. Per case, a storage belongs to the top-level module (the front
layer or the layer under test) running when it is first packed. oneDNN is switched off, so recurrent
layers run PyTorch's own (unfused) kernels rather than oneDNN's, whose workspace is an implementation
detail. Attention runs on the flash kernel (the default of `paramcalc memory`) and, for the models that
have attention, on the math kernel too (the CPU's flash kernel has no dropout).
GPT-2 is run as it is trained: causal attention by is_causal (no mask tensor) and a batch of position ids.
Swin-T's and BERT's attention is written out (matmul, softmax), as torchvision and the zoo's BERT (HF's eager
attention) build it, so the attention kernel changes nothing there: they are measured once, under `math`
for BERT (the written-out softmax path) and `flash` for Swin-T (no attention kernel is involved).

BERT-base (512 tokens) and TinyLlama-1.1B (2048 tokens) are built on the meta device, as in
generate_zoo_fixture.py: no memory, no arithmetic, but autograd packs the same tensors (storages are then
told apart by identity, as meta tensors have no address). That is checked here on small configurations of
the same classes: meta equals CPU on the math path. On meta, scaled_dot_product_attention always takes the
math path, so TinyLlama's flash figures (and its math ones, again) are measured on the CPU at a smaller
configuration of the same architecture: SMALL_LLAMA (2 layers, 256 tokens); test_memory.py builds the
matching spec from specs/tinyllama_1_1b.yaml.

Optimizer state: each optimizer built on the model's parameters, one step on zero gradients, then the
bytes of every tensor in optimizer.state.

Nothing here imports paramcalc: the numbers come from torch alone.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

sys.path.insert(0, str(Path(__file__).parent))
from generate_zoo_fixture import TOKENS, BertModel, LlamaForCausalLM, models  # noqa: E402
from torch_oracle import ReferenceAttention  # noqa: E402

OUT = Path(__file__).parent / "fixtures" / "memory.json"
# flash where the fused kernel takes the inputs, else math, as scaled_dot_product_attention falls back (the fused
# kernels take only 4-D (batch, heads, seq, head_dim) inputs: attention with leading dims runs on math)
BACKENDS = {"flash": [SDPBackend.FLASH_ATTENTION, SDPBackend.MATH], "math": [SDPBackend.MATH]}
ATTENTION_MODELS = ("vit_b_16", "gpt2", "tinyllama_1_1b")
KERNELS = {"bert_base": ("math",)}  # attention written out: no kernel to choose (see above)
META = ("bert_base", "tinyllama_1_1b")  # built on the meta device: SDPA takes its math path there
SMALL_LLAMA = {"layers": 2, "tokens": 256}
OPTIMIZER_MODELS = ("resnet18", "mobilenet_v2", "vit_b_16", "gpt2", "lstm_lm", "dcgan_generator")


def _ptr(t):
    """A storage's identity: its address, or on the meta device (no addresses) the storage object's."""
    storage = t.untyped_storage()
    return storage._cdata if t.is_meta else storage.data_ptr()


def saved_storages(model: nn.Module, inputs, attention: str = "flash"):
    """(total bytes, {top-level module name: bytes first packed while it ran}) of one training forward pass."""
    model.train()
    excluded = {_ptr(p) for p in model.parameters()} | {_ptr(b) for b in model.buffers()}
    stack, seen, per_module = [], {}, {}
    handles = []

    def enter(name):
        return lambda module, args: stack.append(name) and None

    def leave(module, args, output):  # returns None: a forward hook's result would replace the output
        stack.pop()

    for name, module in model.named_modules():
        if name:
            handles.append(module.register_forward_pre_hook(enter(name)))
            handles.append(module.register_forward_hook(leave))

    alive = []  # meta storages are told apart by identity: keep them alive so none is reused

    def pack(t):
        storage, key = t.untyped_storage(), _ptr(t)
        if key not in excluded and key not in seen:
            seen[key] = storage.nbytes()
            alive.append(storage)
            owner = stack[0] if stack else ""  # the outermost module running (a case's `front` or `layer`)
            per_module[owner] = per_module.get(owner, 0) + storage.nbytes()
        return t

    with (
        torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t),
        sdpa_kernel(BACKENDS[attention]),
        torch.backends.mkldnn.flags(enabled=False),
    ):
        model(*inputs)
    for h in handles:
        h.remove()
    return sum(seen.values()), per_module


def causal_gpt2(model):
    """The zoo's GPT-2, attending causally by is_causal (as training code does) and given a batch of
    position ids, like the spec's `positions` input."""

    def block_forward(self, x):
        h = self.ln_1(x)
        causal = torch.ones(x.shape[1], x.shape[1], dtype=torch.bool).triu(1)
        x = x + self.attn(h, h, h, attn_mask=causal, is_causal=True, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))

    def forward(self, tokens):
        positions = torch.arange(tokens.shape[1]).repeat(tokens.shape[0], 1)
        x = self.drop(self.wte(tokens) + self.wpe(positions))
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))

    for block in model.h:
        block.forward = types.MethodType(block_forward, block)
    model.forward = types.MethodType(forward, model)
    return model


def _kernels(name):
    if name in META:
        return ("math",)
    return KERNELS.get(name, ("flash", "math") if name in ATTENTION_MODELS else ("flash",))


def _measure(model, name, shape, kernels):
    entry = {}
    device = "meta" if name in META and next(model.parameters()).is_meta else "cpu"
    for batch in (1, 2):
        torch.manual_seed(0)
        x = (
            torch.randint(0, TOKENS[name], (batch, *shape), device=device)
            if name in TOKENS
            else torch.randn(batch, *shape, device=device)
        )
        for attention in kernels:
            total, _ = saved_storages(model, [x], attention)
            entry[f"batch{batch}_{attention}"] = total
    return entry


def zoo(built):
    result = {}
    for name, (model, shape) in list(built.items()):
        if name == "gpt2":
            model = causal_gpt2(model)
        result[name] = _measure(model, name, shape, _kernels(name))
        print(name, result[name])
        if name not in OPTIMIZER_MODELS:  # free it: the machine is shared
            del built[name], model
    return result


def small_llama(device):
    with torch.device(device):
        torch.manual_seed(0)
        return LlamaForCausalLM(layers=SMALL_LLAMA["layers"])


def zoo_small():
    """TinyLlama at SMALL_LLAMA on the CPU (both kernels); and the proof that meta measures what the CPU
    does, on small configurations of the meta-built models."""
    tokens = [SMALL_LLAMA["tokens"]]
    cpu = _measure(small_llama("cpu"), "tinyllama_1_1b", tokens, ("flash", "math"))
    meta = _measure(small_llama("meta"), "tinyllama_1_1b", tokens, ("math",))
    assert all(cpu[k] == v for k, v in meta.items()), (cpu, meta)

    def bert(device):
        with torch.device(device):
            return BertModel(layers=2, positions=64)

    assert _measure(bert("cpu"), "bert_base", [64], ("math",)) == _measure(bert("meta"), "bert_base", [64], ("math",))
    result = {"tinyllama_1_1b": {**SMALL_LLAMA, **cpu}}
    print("small", result)
    return result


class Case(nn.Module):
    """A layer fed by a linear (or conv) layer, so its input requires grad as inside a network."""

    def __init__(self, front, layer, call=None):
        super().__init__()
        self.front, self.layer, self.call = front, layer, call

    def forward(self, x):
        h = self.front(x)
        return self.call(self.layer, h) if self.call else self.layer(h)


def _first(m, h):
    return m(h)[0]


def _self_attention(m, h):
    return m(h, h, h, need_weights=False)[0]


def _self_attention_seq_first(m, h):
    h = h.transpose(0, 1).contiguous()  # (seq, batch, E), the layout of batch_first=False
    return m(h, h, h, need_weights=False)[0]


def _cross_attention(m, h):
    kv = h[:, :3]  # one tensor as key and value: PyTorch projects them packed
    return m(h, kv, kv, need_weights=False)[0]


def _reference_attention(m, h):
    return m(h, h, h)


class MatMulCase(nn.Module):
    """a @ b where b is a slice of a, transposed: per sample (2, 3, 8) @ (1, 8, 3), broadcast over the 2."""

    def forward(self, h):
        return torch.matmul(h, h[:, :1].transpose(-1, -2))


class BMMCase(nn.Module):
    def forward(self, h):
        return torch.bmm(h, h.transpose(1, 2))


class BufferCase(nn.Module):
    """A buffer added to the front layer's output (a buffer has no input: it joins a merge by name)."""

    def __init__(self, shape):
        super().__init__()
        self.register_buffer("state", torch.zeros(*shape))

    def forward(self, h):
        return h + self.state


class LayerNorm2d(nn.LayerNorm):  # torchvision.models.convnext.LayerNorm2d, verbatim
    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


MATMUL = """
name: matmul
input: [2, 3, 8]
layers:
  - linear: {out: 8, name: front}
  - split: {size: 1, dim: 1, index: 0}
  - transpose: {dim0: -2, dim1: -1, name: b}
  - matmul: {from: [front, b]}
"""

BMM = """
name: bmm
input: [3, 8]
layers:
  - linear: {out: 8, name: front}
  - transpose: {dim0: -2, dim1: -1, name: b}
  - bmm: {from: [front, b]}
"""

BUFFER = """
name: buffer
input: [5, 8]
layers:
  - linear: {out: 8, name: front}
  - buffer: {shape: [5, 8], name: state}
  - add: {from: [front, state]}
"""


class PermuteReshape(nn.Module):
    """A sigmoid (which keeps its output), permuted, reshaped and read by a linear layer: the linear keeps the
    reshape, a view of the sigmoid's output where the permutation moves only size-1 dims, else a copy."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(8, 5)

    def forward(self, h):
        return self.linear(torch.sigmoid(h).permute(0, 2, 1, 3).reshape(h.shape[0], -1, 8))


class PermutedSigmoid(nn.Module):
    """A permuted tensor through a sigmoid (which keeps its output), reshaped and read by a linear layer: the
    sigmoid's output is laid out as its input is (TensorIterator), so the reshape copies it as it would the
    permuted input, unless only size-1 dims moved."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(8, 5)

    def forward(self, h):
        return self.linear(torch.sigmoid(h.permute(0, 2, 1, 3)).reshape(h.shape[0], -1, 8))


class ParameterMatMul(nn.Module):
    """A parameter as matmul's operand: broadcast over the batch, which bmm's fold must copy above batch 1."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(2, 4, 5))

    def forward(self, h):
        return torch.matmul(h, self.w)


class TransposedLinear(nn.Module):
    """A linear layer reading a transposed tensor: mm takes it folded, a copy where no view can fold it."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(8, 5)

    def forward(self, h):
        return self.linear(torch.sigmoid(h).transpose(1, 2))


class WindowAttention(nn.Module):
    """torchvision's window attention (swin_transformer.shifted_window_attention) on one window of 5 tokens,
    2 heads of 4, per sample: q, k and v are views of the qkv output, which matmul folds over (windows, heads)
    as views at batch 1 and as copies at batch 2."""

    def forward(self, qkv):
        qkv = qkv.reshape(qkv.shape[0], 5, 3, 2, 4).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        q = q * 4**-0.5
        attn = q.matmul(k.transpose(-2, -1)).softmax(-1)
        return attn.matmul(v)


PERMUTE_RESHAPE = """
name: permute_reshape
input: %s
layers:
  - linear: {out: 8, name: front}
  - sigmoid
  - permute: [0, 2, 1, 3]
  - reshape: [-1, 8]
  - linear: 5
"""

PERMUTED_SIGMOID = """
name: permuted_sigmoid
input: %s
layers:
  - linear: {out: 8, name: front}
  - permute: [0, 2, 1, 3]
  - sigmoid
  - reshape: [-1, 8]
  - linear: 5
"""

PARAMETER_MATMUL = """
name: parameter_matmul
input: [2, 3, 4]
layers:
  - linear: {out: 4, name: front}
  - parameter: {shape: [2, 4, 5], name: w}
  - matmul: {from: [front, w]}
"""

TRANSPOSED_LINEAR = """
name: transposed_linear
input: %s
layers:
  - linear: {out: 8, name: front}
  - sigmoid
  - transpose: {dim0: 1, dim1: 2}
  - linear: 5
"""

WINDOW_ATTENTION = """
name: window_attention
input: [5, 8]
layers:
  - linear: {out: 24, name: front}
  - reshape: [5, 3, 2, 4]
  - permute: {dims: [0, 2, 3, 1, 4], name: heads}       # (3, heads, 5, 4)
  - select: {dim: 1, index: 0}
  - scale: {by: 0.5, name: q}
  - select: {from: heads, dim: 1, index: 1}
  - transpose: {dim0: -2, dim1: -1, name: k_t}
  - matmul: {from: [q, k_t]}
  - softmax: {dim: -1, name: attn}
  - select: {from: heads, dim: 1, index: 2, name: v}
  - matmul: {from: [attn, v]}
"""


def _separate_attention(m, h):
    return m(h, h[:, :3], h[:, :3], need_weights=False)[0]  # two tensors: projected separately


CROSS = """
name: cross
input: [5, 8]
layers:
  - linear: {out: 8, name: front}
  - split: {size: 3, dim: 1, index: 0, name: kv}
  - multiheadattention: {heads: 2, batch_first: true, from: [front, %s]}
"""


def cases():
    """(id, paramcalc input, paramcalc layers (or a YAML spec), torch model): the front layer, then the
    layer under test. The fixture records the bytes each first keeps."""
    conv = "conv2d(4, kernel=3, padding=1)"
    lin = "linear(8)"
    out = []

    def image(name, layer_spec, layer):
        out.append((name, [3, 6, 6], [conv, layer_spec], Case(nn.Conv2d(3, 4, 3, padding=1), layer)))

    def vector(name, layer_spec, layer, call=None, shape=(5, 8), front_spec=lin, front=None):
        # layer_spec: an inline layer after the front one, or a whole YAML spec whose first layer is the front
        layers = layer_spec if "\n" in layer_spec else [front_spec, layer_spec]
        out.append((name, list(shape), layers, Case(front or nn.Linear(shape[-1], 8), layer, call)))

    for kind, cls, inplace in (
        ("relu", nn.ReLU, True),
        ("relu6", nn.ReLU6, True),
        ("leakyrelu", nn.LeakyReLU, True),
        ("elu", nn.ELU, True),
        ("selu", nn.SELU, True),
        ("celu", nn.CELU, True),
        ("silu", nn.SiLU, True),
        ("mish", nn.Mish, True),
        ("hardswish", nn.Hardswish, True),
        ("hardsigmoid", nn.Hardsigmoid, True),
        ("hardtanh", nn.Hardtanh, True),
        ("rrelu", nn.RReLU, True),
        ("gelu", nn.GELU, False),
        ("sigmoid", nn.Sigmoid, False),
        ("tanh", nn.Tanh, False),
        ("logsigmoid", nn.LogSigmoid, False),
        ("softsign", nn.Softsign, False),
        ("tanhshrink", nn.Tanhshrink, False),
        ("softplus", nn.Softplus, False),
        ("hardshrink", nn.Hardshrink, False),
        ("softshrink", nn.Softshrink, False),
        ("prelu", nn.PReLU, False),
    ):
        vector(kind, kind, cls())
        if inplace:
            vector(f"{kind} in place", f"{kind}(inplace=true)", cls(inplace=True))
    vector("threshold", "threshold(threshold=0.1, value=0)", nn.Threshold(0.1, 0.0))
    vector("threshold in place", "threshold(threshold=0.1, value=0, inplace=true)", nn.Threshold(0.1, 0.0, True))
    vector("softmax", "softmax(-1)", nn.Softmax(-1))
    vector("logsoftmax", "logsoftmax(-1)", nn.LogSoftmax(-1))
    vector("glu", "glu(-1)", nn.GLU(-1))
    vector("dropout", "dropout(0.5)", nn.Dropout(0.5))
    vector("dropout in place", "dropout(0.5, inplace=true)", nn.Dropout(0.5, inplace=True))
    vector("dropout p=0", "dropout(0)", nn.Dropout(0.0))
    vector("alphadropout", "alphadropout(0.5)", nn.AlphaDropout(0.5))
    image("dropout2d", "dropout2d(0.5)", nn.Dropout2d(0.5))
    vector("linear", "linear(6)", nn.Linear(8, 6))
    vector("layernorm", "layernorm", nn.LayerNorm(8))
    vector("rmsnorm", "rmsnorm", nn.RMSNorm(8))
    image("conv2d", "conv2d(5, kernel=3)", nn.Conv2d(4, 5, 3))
    image("convtranspose2d", "convtranspose2d(5, kernel=2, stride=2)", nn.ConvTranspose2d(4, 5, 2, stride=2))
    image("batchnorm2d", "batchnorm2d", nn.BatchNorm2d(4))
    image("groupnorm", "groupnorm(2)", nn.GroupNorm(2, 4))
    image("instancenorm2d", "instancenorm2d", nn.InstanceNorm2d(4))
    image("maxpool2d", "maxpool2d(2)", nn.MaxPool2d(2))
    image("maxpool2d padded", "maxpool2d(3, stride=2, padding=1)", nn.MaxPool2d(3, 2, 1))
    image("avgpool2d", "avgpool2d(2)", nn.AvgPool2d(2))
    image("adaptiveavgpool2d to 1", "adaptiveavgpool2d(1)", nn.AdaptiveAvgPool2d(1))
    image("adaptiveavgpool2d to 3", "adaptiveavgpool2d(3)", nn.AdaptiveAvgPool2d(3))
    image("adaptivemaxpool2d", "adaptivemaxpool2d(2)", nn.AdaptiveMaxPool2d(2))
    image("upsample", "upsample(2)", nn.Upsample(scale_factor=2))
    image("reflectionpad2d", "reflectionpad2d(1)", nn.ReflectionPad2d(1))
    image("zeropad2d", "zeropad2d(1)", nn.ZeroPad2d(1))
    image("flatten", "flatten", nn.Flatten())
    for attention in ("flash", "math"):
        for bf in (True, False):
            vector(
                f"multiheadattention batch_first={bf} {attention}",
                f"multiheadattention(2, batch_first={str(bf).lower()})",
                nn.MultiheadAttention(8, 2, batch_first=bf),
                _self_attention if bf else _self_attention_seq_first,
            )
        vector(
            f"multiheadattention cross {attention}",
            CROSS % "kv",
            nn.MultiheadAttention(8, 2, batch_first=True),
            _cross_attention,
        )
        vector(
            f"multiheadattention cross separate {attention}",
            CROSS % "kv, kv",
            nn.MultiheadAttention(8, 2, batch_first=True),
            _separate_attention,
        )
    vector(
        "multiheadattention dropout math",
        "multiheadattention(2, dropout=0.1, batch_first=true)",
        nn.MultiheadAttention(8, 2, dropout=0.1, batch_first=True),
        _self_attention,
    )
    # Attention as Llama/Mistral/Whisper write it (tests/torch_oracle.py's ReferenceAttention): q/k/v/o linears,
    # scaled_dot_product_attention(enable_gqa=True), leading dims as batch dims.
    for attention in ("flash", "math"):
        for label, fields in (
            ("grouped-query", {"heads": 4, "kv_heads": 2}),
            ("multi-query", {"heads": 4, "kv_heads": 1}),
            ("head_dim", {"heads": 2, "head_dim": 6}),
            ("grouped-query head_dim", {"heads": 4, "kv_heads": 2, "head_dim": 3}),
            ("per-projection biases", {"heads": 2, "bias": False, "q_bias": True, "v_bias": True}),
        ):
            inline = ", ".join(f"{k}={str(v).lower()}" for k, v in fields.items())
            vector(
                f"multiheadattention {label} {attention}",
                f"multiheadattention({inline})",
                ReferenceAttention(8, **fields),
                _reference_attention,
            )
        vector(
            f"multiheadattention grouped-query leading dims {attention}",
            "multiheadattention(4, kv_heads=2)",
            ReferenceAttention(8, heads=4, kv_heads=2),
            _reference_attention,
            shape=(3, 5, 8),
        )
    vector("matmul broadcast", MATMUL, MatMulCase(), shape=(2, 3, 8))
    vector("bmm", BMM, BMMCase(), shape=(3, 8))
    vector("buffer", BUFFER, BufferCase((5, 8)))
    # A reshape or a kernel's fold is a view where the strides allow, else a copy (PyTorch's computeStride)
    for shape in ((3, 4, 8), (1, 4, 8)):
        vector(f"permute reshape {list(shape)}", PERMUTE_RESHAPE % list(shape), PermuteReshape(), shape=shape)
        vector(f"transposed linear {list(shape)}", TRANSPOSED_LINEAR % list(shape), TransposedLinear(), shape=shape)
        vector(f"permuted sigmoid {list(shape)}", PERMUTED_SIGMOID % list(shape), PermutedSigmoid(), shape=shape)
    vector("matmul parameter", PARAMETER_MATMUL, ParameterMatMul(), shape=(2, 3, 4), front=nn.Linear(4, 4))
    vector("window attention", WINDOW_ATTENTION, WindowAttention(), front=nn.Linear(8, 24))
    image("layernorm2d", "layernorm2d", LayerNorm2d(4, eps=1e-6))
    image("layernorm2d no affine", "layernorm2d(elementwise_affine=false)", LayerNorm2d(4, elementwise_affine=False))
    for attention in ("flash", "math"):
        for norm_first in (False, True):
            for p in (0.0, 0.1) if attention == "math" else (0.0,):  # the CPU's flash kernel has no dropout
                vector(
                    f"transformerencoderlayer norm_first={norm_first} dropout={p} {attention}",
                    f"transformerencoderlayer(2, ff=16, dropout={p}, norm_first={str(norm_first).lower()}, "
                    f"batch_first=true)",
                    nn.TransformerEncoderLayer(
                        8, 2, dim_feedforward=16, dropout=p, norm_first=norm_first, batch_first=True
                    ),
                )
    for kind, cls in (("rnn", nn.RNN), ("lstm", nn.LSTM), ("gru", nn.GRU)):
        vector(kind, f"{kind}(6, batch_first=true)", cls(8, 6, batch_first=True), _first)
        vector(f"{kind} 2 layers", f"{kind}(6, layers=2, batch_first=true)", cls(8, 6, 2, batch_first=True), _first)
        vector(
            f"{kind} 2 layers dropout",
            f"{kind}(6, layers=2, dropout=0.5, batch_first=true)",
            cls(8, 6, 2, dropout=0.5, batch_first=True),
            _first,
        )
        vector(
            f"{kind} bidirectional",
            f"{kind}(6, bidirectional=true, batch_first=true)",
            cls(8, 6, bidirectional=True, batch_first=True),
            _first,
        )
    return out


def layer_cases():
    result = []
    for name, shape, layers, model in cases():
        attention = "math" if name.endswith(" math") else "flash"
        for batch in (1, 2):
            torch.manual_seed(0)
            try:
                total, per = saved_storages(model, [torch.randn(batch, *shape)], attention)
            except RuntimeError as e:
                print(f"skip {name}: {e}")
                continue
            result.append(
                {
                    "name": name,
                    "input": shape,
                    "layers": layers,
                    "batch": batch,
                    "attention": attention,
                    "saved": [per.get("front", 0), per.get("layer", 0)],
                    "total": total,
                }
            )
    print(f"{len(result)} layer cases")
    return result


def optimizer_states(built):
    """Bytes of optimizer.state after one step, per model and optimizer (default arguments)."""
    factories = {
        "sgd": lambda p: torch.optim.SGD(p, lr=0.1),
        "momentum": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
        "adam": lambda p: torch.optim.Adam(p),
        "adamw": lambda p: torch.optim.AdamW(p),
        "adagrad": lambda p: torch.optim.Adagrad(p),
        "rmsprop": lambda p: torch.optim.RMSprop(p),
    }
    result = {}
    for name in OPTIMIZER_MODELS:
        model = built[name][0]
        params = [p for p in model.parameters() if p.requires_grad]
        entry = {}
        for opt_name, make in factories.items():
            optimizer = make(params)
            for p in params:
                p.grad = torch.zeros_like(p)
            optimizer.step()
            entry[opt_name] = sum(
                t.untyped_storage().nbytes()
                for state in optimizer.state.values()
                for t in state.values()
                if isinstance(t, torch.Tensor)
            )
            del optimizer
        for p in params:
            p.grad = None
        result[name] = entry
        print(name, entry)
    return result


def main():
    torch.manual_seed(0)
    built = models()
    result = {
        "torch": torch.__version__,
        "layers": layer_cases(),
        "zoo": zoo(built),
        "zoo_small": zoo_small(),
        "optimizers": optimizer_states(built),
    }
    OUT.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
