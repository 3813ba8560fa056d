"""PyTorch as the oracle: build a paramcalc layer case in torch and measure what torch reports.

Used by generate_fixtures.py (which records the committed fixture) and by the live hypothesis
test. Nothing here imports paramcalc: expected numbers come from torch alone.

A case is {"kind", "fields" (paramcalc's canonical field names), "inputs" (per-sample shapes)}.
"""

from __future__ import annotations

import random

# paramcalc field name -> torch constructor argument, where they differ
RENAME = {"kernel": "kernel_size", "out": None}
OUT_NAME = {"conv": "out_channels", "linear": "out_features", "adaptive": "output_size"}

SPATIAL = {"1d": 1, "2d": 2, "3d": 3}
BATCH = 2


def _ndim(kind: str) -> int:
    return SPATIAL.get(kind[-2:], 1)


def torch_call(kind: str, fields: dict, in_shapes: list[list[int]]):
    """A callable taking batched tensors, equivalent to the paramcalc layer."""
    import torch
    from torch import nn

    kwargs = {}
    for key, value in fields.items():
        if key == "out":
            family = "conv" if kind.startswith("conv") else "linear" if kind == "linear" else "adaptive"
            kwargs[OUT_NAME[family]] = value
        else:
            kwargs[RENAME.get(key, key)] = value
    shape = in_shapes[0] if in_shapes else None
    if kind.startswith("conv") and "weight_norm" in kwargs:  # g and v in place of the weight
        dim = kwargs.pop("weight_norm")
        return nn.utils.parametrizations.weight_norm(
            torch_call(kind, {k: v for k, v in fields.items() if k != "weight_norm"}, in_shapes), dim=dim
        )
    if kind.startswith("convtranspose"):
        return getattr(nn, f"ConvTranspose{kind[-2:]}")(in_channels=shape[0], **kwargs)
    if kind.startswith("conv"):
        return getattr(nn, f"Conv{kind[-2:]}")(in_channels=shape[0], **kwargs)
    if kind == "linear":
        return nn.Linear(in_features=shape[-1], **kwargs)
    if kind.startswith("batchnorm"):
        return getattr(nn, f"BatchNorm{kind[-2:]}")(num_features=shape[0], **kwargs)
    if kind == "add":
        return lambda *xs: sum(xs[1:], xs[0])
    if kind == "mul":

        def mul(*xs):
            out = xs[0]
            for x in xs[1:]:
                out = out * x
            return out

        return mul
    if kind == "scale":
        return lambda x: x * fields["by"]
    if kind == "concat":
        return lambda *xs: torch.cat(xs, dim=fields.get("dim", 1))
    if kind == "split":
        return lambda x: torch.split(x, fields["size"], dim=fields.get("dim", 1))[fields.get("index", 0)]
    if kind == "chunk":
        return lambda x: torch.chunk(x, fields["chunks"], dim=fields.get("dim", 1))[fields.get("index", 0)]
    if kind == "mean":
        return lambda x: torch.mean(x, dim=fields["dim"], keepdim=fields.get("keepdim", False))
    return (
        _newer_kinds(kind, fields, shape)
        or _issue10_kinds(kind, fields, shape)
        or getattr(nn, TORCH_CLASS[kind])(**kwargs)
    )


def _newer_kinds(kind, f, shape):
    """Sequence, attention, normalisation and rearranging kinds, argument by argument."""
    import torch
    from torch import nn

    def last(n):  # normalized_shape: given, or the last dim
        return f.get("shape") or shape[-1]

    if kind in ("upsample", "upsamplingnearest2d", "upsamplingbilinear2d"):

        def tup(v):  # nn.Upsample wants tuples, where YAML gives lists
            return tuple(v) if isinstance(v, list) else v

        args = {"size": tup(f.get("size")), "scale_factor": tup(f.get("scale"))}
        if kind == "upsample":
            args |= {"mode": f.get("mode", "nearest"), "align_corners": f.get("align_corners")}
        return getattr(
            nn,
            {
                "upsample": "Upsample",
                "upsamplingnearest2d": "UpsamplingNearest2d",
                "upsamplingbilinear2d": "UpsamplingBilinear2d",
            }[kind],
        )(**args)
    if kind in ("pixelshuffle", "pixelunshuffle"):
        return getattr(nn, "PixelShuffle" if kind == "pixelshuffle" else "PixelUnshuffle")(f["factor"])
    if kind in ("reshape", "view"):
        return lambda x: x.reshape(x.shape[0], *f["shape"])
    if kind == "unflatten":
        return nn.Unflatten(f["dim"], f["sizes"])
    if kind == "permute":
        return lambda x: x.permute(*f["dims"])
    if kind == "transpose":
        return lambda x: x.transpose(f["dim0"], f["dim1"])
    if kind == "squeeze":
        return lambda x: x.squeeze(f["dim"]) if f.get("dim") is not None else x.squeeze()
    if kind == "unsqueeze":
        return lambda x: x.unsqueeze(f["dim"])
    if kind == "select":
        return lambda x: x.select(f["dim"], f["index"])
    if kind.endswith(("pad1d", "pad2d", "pad3d")):
        name = next(n for n in dir(nn) if n.lower() == kind)
        return getattr(nn, name)(f["padding"], *([f["value"]] if "value" in f else []))
    if kind == "layernorm":
        return nn.LayerNorm(last(1), elementwise_affine=f.get("elementwise_affine", True), bias=f.get("bias", True))
    if kind == "rmsnorm":
        return nn.RMSNorm(last(1), elementwise_affine=f.get("elementwise_affine", True))
    if kind == "groupnorm":
        return nn.GroupNorm(f["groups"], shape[0], affine=f.get("affine", True))
    if kind.startswith("instancenorm"):
        return getattr(nn, f"InstanceNorm{kind[-2:]}")(
            shape[0], affine=f.get("affine", False), track_running_stats=f.get("track_running_stats", False)
        )
    if kind == "localresponsenorm":
        return nn.LocalResponseNorm(f["size"])
    if kind == "embedding":
        return nn.Embedding(f["num"], f["dim"], padding_idx=f.get("padding_idx"))
    if kind == "embeddingbag":
        return nn.EmbeddingBag(f["num"], f["dim"], mode=f.get("mode", "mean"))
    if kind == "parameter":

        class Holder(nn.Module):
            def __init__(self):
                super().__init__()
                self.weight = nn.Parameter(torch.zeros(1, *f["shape"]))

            def forward(self):
                return self.weight.detach().expand(BATCH, *f["shape"])

        return Holder()
    if kind in ("rnn", "lstm", "gru"):
        args = {
            "input_size": shape[-1],
            "hidden_size": f["hidden"],
            "num_layers": f.get("layers", 1),
            "bias": f.get("bias", True),
            "bidirectional": f.get("bidirectional", False),
            "batch_first": True,
        }
        if "proj" in f:
            args["proj_size"] = f["proj"]
        if "nonlinearity" in f:
            args["nonlinearity"] = f["nonlinearity"]
        module = getattr(nn, kind.upper())(**args)
        return _first(module)
    if kind == "multiheadattention" and (set(f) & set(EXTENDED_ATTENTION) or len(shape) > 2):
        module = ReferenceAttention(shape[-1], **f)
        return _Wrapped(module, lambda *xs: module(*(xs * 3)[:3] if len(xs) == 1 else (xs[0], xs[1], xs[-1])))
    if kind == "multiheadattention":
        module = nn.MultiheadAttention(
            shape[-1],
            f["heads"],
            bias=f.get("bias", True),
            add_bias_kv=f.get("add_bias_kv", False),
            add_zero_attn=f.get("add_zero_attn", False),
            kdim=f.get("kdim"),
            vdim=f.get("vdim"),
            batch_first=True,
        )

        def attend(*xs):
            q, k, v = (xs * 3)[:3] if len(xs) == 1 else (xs[0], xs[1], xs[-1])
            return module(q, k, v)[0]

        return _Wrapped(module, attend)
    if kind == "attention":
        return _attention_op(f)
    if kind in ("router", "experts"):
        return _mixture(kind, f, shape)
    if kind == "mambamixer":
        return _mamba_mixer(f, shape)
    if kind in ("transformerencoderlayer", "transformerdecoderlayer"):
        cls = nn.TransformerEncoderLayer if kind == "transformerencoderlayer" else nn.TransformerDecoderLayer
        return cls(
            shape[-1],
            f["heads"],
            dim_feedforward=f.get("ff", 2048),
            dropout=0.0,
            activation=f.get("activation", "relu"),
            norm_first=f.get("norm_first", False),
            bias=f.get("bias", True),
            batch_first=True,
        )
    return None


def _issue10_kinds(kind, f, shape):
    """matmul, bmm, buffer and layernorm2d."""
    import torch
    from torch import nn

    if kind in ("matmul", "bmm"):
        return getattr(torch, kind)
    if kind == "buffer":

        class Holder(nn.Module):
            def __init__(self):
                super().__init__()
                self.register_buffer("state", torch.zeros(*f["shape"]))

            def forward(self):
                return self.state.unsqueeze(0).expand(BATCH, *f["shape"])

        return Holder()
    if kind == "layernorm2d":

        class LayerNorm2d(nn.LayerNorm):  # torchvision.models.convnext.LayerNorm2d, verbatim
            def forward(self, x):
                x = x.permute(0, 2, 3, 1)
                x = nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
                return x.permute(0, 3, 1, 2)

        return LayerNorm2d(
            shape[0],
            eps=f.get("eps", 1e-6),
            elementwise_affine=f.get("elementwise_affine", True),
            bias=f.get("bias", True),
        )
    return None


EXTENDED_ATTENTION = ("kv_heads", "head_dim", "q_bias", "k_bias", "v_bias", "out_bias")


def _reference_attention_class():
    import torch
    from torch import nn
    from torch.nn import functional as F

    class ReferenceAttention(nn.Module):
        """Attention as Llama/Mistral/Whisper write it: q/k/v/o linears (each with or without a bias),
        kv_heads key/value heads shared by groups of query heads, F.scaled_dot_product_attention(
        enable_gqa=True); leading dims of the (..., seq, E) inputs are batch dims."""

        def __init__(
            self,
            e,
            heads,
            kv_heads=None,
            head_dim=None,
            bias=True,
            q_bias=None,
            k_bias=None,
            v_bias=None,
            out_bias=None,
            kdim=None,
            vdim=None,
            add_bias_kv=False,
            add_zero_attn=False,
        ):
            super().__init__()
            if head_dim is None and e % heads:  # as nn.MultiheadAttention: "embed_dim must be divisible by num_heads"
                raise ValueError("heads must divide E")
            kv_heads, head_dim = kv_heads or heads, head_dim or e // heads
            self.heads, self.kv_heads, self.head_dim, self.add_zero_attn = heads, kv_heads, head_dim, add_zero_attn

            def pick(b):
                return bias if b is None else b

            self.q_proj = nn.Linear(e, heads * head_dim, bias=pick(q_bias))
            self.k_proj = nn.Linear(kdim or e, kv_heads * head_dim, bias=pick(k_bias))
            self.v_proj = nn.Linear(vdim or e, kv_heads * head_dim, bias=pick(v_bias))
            self.out_proj = nn.Linear(heads * head_dim, e, bias=pick(out_bias))
            if add_bias_kv:
                self.bias_k = nn.Parameter(torch.zeros(1, kv_heads * head_dim))
                self.bias_v = nn.Parameter(torch.zeros(1, kv_heads * head_dim))
            else:
                self.bias_k = self.bias_v = None

        def forward(self, q, k, v):
            if not q.shape[:-2] == k.shape[:-2] == v.shape[:-2]:
                raise ValueError("leading dims differ")
            q, k, v = self.q_proj(q), self.k_proj(k), self.v_proj(v)
            if self.bias_k is not None:
                k = torch.cat([k, self.bias_k.expand(*k.shape[:-2], 1, -1)], dim=-2)
                v = torch.cat([v, self.bias_v.expand(*v.shape[:-2], 1, -1)], dim=-2)
            if self.add_zero_attn:
                k = torch.cat([k, k.new_zeros(*k.shape[:-2], 1, k.shape[-1])], dim=-2)
                v = torch.cat([v, v.new_zeros(*v.shape[:-2], 1, v.shape[-1])], dim=-2)

            def heads(x, n):
                return x.unflatten(-1, (n, self.head_dim)).transpose(-2, -3)

            out = F.scaled_dot_product_attention(
                heads(q, self.heads), heads(k, self.kv_heads), heads(v, self.kv_heads), enable_gqa=True
            )
            return self.out_proj(out.transpose(-2, -3).flatten(-2))

    return ReferenceAttention


def _attention_op(f):
    """The attention kind as Hugging Face models compute it between their projections: q, k, v (batch, ...,
    seq, heads · head_dim) split into heads; rope rotating the first rotary_dim features of q and k; then
    F.scaled_dot_product_attention (is_causal, enable_gqa, a window or ALiBi as a mask), or, with a softcap
    or sinks, the eager path (matmul, tanh cap, sink logits concatenated before the softmax, matmul with v)
    as Gemma 2 and gpt-oss write it."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    heads, kv = f["heads"], f.get("kv_heads") or f["heads"]

    class Op(nn.Module):
        def __init__(self):
            super().__init__()
            self.sinks = nn.Parameter(torch.zeros(heads)) if f.get("sinks") else None

        def forward(self, *xs):
            if len(xs) == 1:
                (x,) = xs
                d = f.get("head_dim") or x.shape[-1] // (heads + 2 * kv)
                dv = f.get("v_head_dim") or d
                q, k, v = x.split([heads * d, kv * d, kv * dv], dim=-1)
            else:
                q, k, v = xs
            d = f.get("head_dim") or q.shape[-1] // heads
            if q.shape[-1] != heads * d or k.shape[-1] != kv * d or v.shape[-1] % kv:
                raise ValueError("features do not split into heads")
            if not q.shape[:-2] == k.shape[:-2] == v.shape[:-2] or k.shape[-2] != v.shape[-2]:
                raise ValueError("shapes differ")

            def split(x, n):
                return x.unflatten(-1, (n, x.shape[-1] // n)).transpose(-2, -3)

            q, k, v = split(q, heads), split(k, kv), split(v, kv)
            if f.get("position") == "rope":
                rd = f.get("rotary_dim") or d
                if rd > d:
                    raise ValueError("rotary_dim > head_dim")

                def rope(x):
                    n = x.shape[-2]
                    angle = torch.arange(n)[:, None] * torch.arange(rd // 2)[None, :]
                    cos, sin = torch.cat([angle.cos()] * 2, -1), torch.cat([angle.sin()] * 2, -1)
                    r, rest = x[..., :rd], x[..., rd:]
                    half = torch.cat([-r[..., rd // 2 :], r[..., : rd // 2]], -1)
                    return torch.cat([r * cos + half * sin, rest], -1)

                q, k = rope(q), rope(k)
            length, source = q.shape[-2], k.shape[-2]
            mask = torch.zeros(length, source)
            i, j = torch.arange(length)[:, None], torch.arange(source)[None, :]
            if f.get("causal"):
                mask = mask.masked_fill(j > i, float("-inf"))
            if f.get("window"):
                mask = mask.masked_fill(i - j >= f["window"], float("-inf"))
            if f.get("position") == "alibi":
                slopes = 2.0 ** (-8.0 * torch.arange(1, heads + 1) / heads)
                mask = mask + slopes[:, None, None] * (j - i)
            scale = f.get("scale") or d**-0.5
            if not f.get("softcap") and self.sinks is None:
                return self._merge(
                    F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale, enable_gqa=True)
                )
            k, v = k.repeat_interleave(heads // kv, -3), v.repeat_interleave(heads // kv, -3)
            logits = q @ k.transpose(-1, -2) * scale
            if f.get("softcap"):
                logits = torch.tanh(logits / f["softcap"]) * f["softcap"]
            logits = logits + mask
            if self.sinks is not None:
                sink = self.sinks.reshape(heads, 1, 1).expand(*logits.shape[:-1], 1)
                weights = torch.cat([logits, sink], -1).softmax(-1)[..., :-1]
            else:
                weights = logits.softmax(-1)
            return self._merge(weights @ v)

        def _merge(self, out):
            return out.transpose(-2, -3).flatten(-2)

    return Op()


def _mixture(kind, f, shape):
    """A mixture of experts' router (a linear gate, and DeepSeek-V3's correction buffer) and its experts as
    transformers' eager MixtralExperts computes them: each expert's gate_up_proj and down_proj as 3-D
    parameters, each token through the top_k experts its router scores choose (F.linear on the tokens an
    expert got), plus shared experts of the same width that every token runs."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    h, n, k, ff = shape[-1], f["experts"], f.get("top_k", 1), f.get("ff")
    if k > n:
        raise ValueError("top_k > experts")
    if kind == "router":
        gate = nn.Linear(h, n, bias=f.get("bias", False))
        if f.get("correction_bias"):
            gate.register_buffer("e_score_correction_bias", torch.zeros(n))
        return gate
    gated, bias = f.get("gated", True), f.get("bias", False)
    width = 2 * ff if gated else ff

    class Experts(nn.Module):
        def __init__(self):
            super().__init__()
            total = n + f.get("shared", 0)
            self.gate_up_proj = nn.Parameter(torch.randn(total, width, h))
            self.down_proj = nn.Parameter(torch.randn(total, h, ff))
            self.gate_up_proj_bias = nn.Parameter(torch.zeros(total, width)) if bias else None
            self.down_proj_bias = nn.Parameter(torch.zeros(total, h)) if bias else None

        def expert(self, e, x):
            up = F.linear(
                x, self.gate_up_proj[e], None if self.gate_up_proj_bias is None else self.gate_up_proj_bias[e]
            )
            if gated:
                g, u = up.chunk(2, dim=-1)
                up = F.silu(g) * u
            else:
                up = F.silu(up)
            return F.linear(up, self.down_proj[e], None if self.down_proj_bias is None else self.down_proj_bias[e])

        def forward(self, x, scores):
            if scores.shape[:-1] != x.shape[:-1] or scores.shape[-1] != n:
                raise ValueError("router scores do not match")
            flat, chosen = x.reshape(-1, h), scores.reshape(-1, n).topk(k, dim=-1).indices
            out = torch.zeros_like(flat)
            for e in range(n):
                tokens = (chosen == e).any(-1).nonzero().flatten()
                if len(tokens):
                    out.index_add_(0, tokens, self.expert(e, flat[tokens]))
            for e in range(n, n + f.get("shared", 0)):
                out = out + self.expert(e, flat)
            return out.reshape(x.shape)

    return Experts()


def _mamba_mixer(f, shape):
    """transformers' MambaMixer on its torch path (causal conv1d padded by conv_kernel − 1 and cut, dt_proj's
    weight times the step, the sequential selective scan), as modeling_mamba.py writes it."""
    import math

    import torch
    from torch import nn
    from torch.nn import functional as F

    h = shape[-1]
    n = f.get("intermediate") or f.get("expand", 2) * h
    s, k = f.get("state", 16), f.get("conv_kernel", 4)
    r = f.get("dt_rank") or math.ceil(h / 16)

    class Mixer(nn.Module):
        def __init__(self):
            super().__init__()
            self.in_proj = nn.Linear(h, 2 * n, bias=f.get("bias", False))
            self.conv1d = nn.Conv1d(n, n, k, groups=n, padding=k - 1, bias=f.get("conv_bias", True))
            self.x_proj = nn.Linear(n, r + 2 * s, bias=False)
            self.dt_proj = nn.Linear(r, n, bias=True)
            self.A_log = nn.Parameter(torch.zeros(n, s))
            self.D = nn.Parameter(torch.ones(n))
            self.out_proj = nn.Linear(n, h, bias=f.get("bias", False))

        def forward(self, x):
            if x.dim() != 3:
                raise ValueError("MambaMixer takes (batch, seq, hidden)")
            length = x.shape[1]
            xs, gate = self.in_proj(x).transpose(1, 2).chunk(2, dim=1)
            xs = F.silu(self.conv1d(xs)[..., :length])
            step, b, c = self.x_proj(xs.transpose(1, 2)).split([r, s, s], dim=-1)
            dt = F.softplus(self.dt_proj.weight @ step.transpose(1, 2) + self.dt_proj.bias[:, None])
            a = -torch.exp(self.A_log)
            state, outs = torch.zeros(x.shape[0], n, s), []
            for i in range(length):
                state = torch.exp(a * dt[:, :, i, None]) * state + dt[:, :, i, None] * b[:, None, i] * xs[:, :, i, None]
                outs.append(torch.matmul(state, c[:, i, :, None])[..., 0])
            y = torch.stack(outs, -1) + xs * self.D[None, :, None]
            return self.out_proj((y * F.silu(gate)).transpose(1, 2))

    return Mixer()


def ReferenceAttention(e, **f):
    f = {k: v for k, v in f.items() if k not in ("dropout", "batch_first", "embed_dim")}
    return _reference_attention_class()(e, **f)


class _Wrapped:
    """A callable with the parameters of a module, for modules whose output needs unpacking."""

    def __init__(self, module, fn):
        self.module, self.fn = module, fn

    def __call__(self, *xs):
        return self.fn(*xs)


def _first(module):
    return _Wrapped(module, lambda x: module(x)[0])


TORCH_CLASS = {
    **{f"maxpool{d}": f"MaxPool{d}" for d in SPATIAL},
    **{f"avgpool{d}": f"AvgPool{d}" for d in SPATIAL},
    **{f"adaptiveavgpool{d}": f"AdaptiveAvgPool{d}" for d in SPATIAL},
    **{f"adaptivemaxpool{d}": f"AdaptiveMaxPool{d}" for d in SPATIAL},
    "flatten": "Flatten",
    "identity": "Identity",
    "dropout": "Dropout",
    "dropout1d": "Dropout1d",
    "dropout2d": "Dropout2d",
    "dropout3d": "Dropout3d",
    "alphadropout": "AlphaDropout",
    "featurealphadropout": "FeatureAlphaDropout",
    "relu": "ReLU",
    "relu6": "ReLU6",
    "leakyrelu": "LeakyReLU",
    "elu": "ELU",
    "celu": "CELU",
    "selu": "SELU",
    "gelu": "GELU",
    "silu": "SiLU",
    "mish": "Mish",
    "hardswish": "Hardswish",
    "hardsigmoid": "Hardsigmoid",
    "hardtanh": "Hardtanh",
    "sigmoid": "Sigmoid",
    "tanh": "Tanh",
    "logsigmoid": "LogSigmoid",
    "softsign": "Softsign",
    "tanhshrink": "Tanhshrink",
    "softplus": "Softplus",
    "hardshrink": "Hardshrink",
    "softshrink": "Softshrink",
    "threshold": "Threshold",
    "rrelu": "RReLU",
    "softmax": "Softmax",
    "logsoftmax": "LogSoftmax",
    "softmin": "Softmin",
    "softmax2d": "Softmax2d",
    "prelu": "PReLU",
    "glu": "GLU",
    "channelshuffle": "ChannelShuffle",
}


def measure(case: dict) -> dict:
    """What torch reports for a case: output shape (per sample), weights, bias, buffers, MACs;
    or {"error": message} when torch refuses it."""
    import torch
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    kind, fields, inputs = case["kind"], case["fields"], case["inputs"]
    try:
        module = torch_call(kind, fields, inputs)
        owner = module.module if isinstance(module, _Wrapped) else module
        if isinstance(owner, torch.nn.Module):
            owner.eval()
        # Batch 2: a batch of 1 trips training-only checks (BatchNorm without running stats).
        if kind.startswith("embedding"):
            xs = [torch.randint(0, fields["num"], (BATCH, *shape)) for shape in inputs]
        else:
            xs = [torch.randn(BATCH, *shape) for shape in inputs]
        counter = FlopCounterMode(display=False)
        # Fused kernels (oneDNN's LSTM, the attention fast path, flash attention) hide their work from
        # the flop counter: switch them off so it sees every matrix product.
        torch.backends.mha.set_fastpath_enabled(False)
        with torch.no_grad(), counter, torch.backends.mkldnn.flags(enabled=False), sdpa_kernel(SDPBackend.MATH):
            out = module(*xs)
    except (RuntimeError, ValueError, TypeError, IndexError, AssertionError) as e:
        return {"error": str(e).split("\n")[0][:200]}
    if isinstance(out, tuple):  # return_indices=True
        out = out[0]
    if out.numel() == 0:
        # torch returns an empty tensor for e.g. a transposed conv whose padding eats the output;
        # paramcalc refuses any layer whose output has a zero-size dim, so this counts as rejected.
        return {"error": f"empty output {list(out.shape)}"}
    params = dict(owner.named_parameters()) if isinstance(owner, torch.nn.Module) else {}
    buffers = list(owner.buffers()) if isinstance(owner, torch.nn.Module) else []
    # bias, in_proj_bias, bias_ih_l0, bias_k, ...: every parameter named as a bias
    bias = sum(p.numel() for name, p in params.items() if "bias" in name.split(".")[-1])
    total = sum(p.numel() for p in params.values())
    flops = counter.get_total_flops()
    assert flops % (2 * BATCH) == 0
    return {
        "output_shape": list(out.shape[1:]),
        "weights": total - bias,
        "bias": bias,
        "buffers": sum(b.numel() for b in buffers),
        "macs": flops // (2 * BATCH),
    }


# ---------------------------------------------------------------- random cases


def _spatial(rng, n, lo=1, hi=12):
    return [rng.randint(lo, hi) for _ in range(n)]


def _per_dim(rng, n, lo, hi):
    """An int, or one per spatial dim."""
    if n > 1 and rng.random() < 0.3:
        return [rng.randint(lo, hi) for _ in range(n)]
    return rng.randint(lo, hi)


def random_case(kind: str, rng: random.Random) -> dict:
    n = _ndim(kind)
    fields: dict = {}
    if kind.startswith("convtranspose"):
        groups = rng.choice([1, 1, 2, 3])
        fields = {"out": groups * rng.randint(1, 4), "kernel": _per_dim(rng, n, 1, 5)}
        for key, lo, hi, p in (
            ("stride", 1, 3, 0.6),
            ("padding", 0, 2, 0.4),
            ("dilation", 1, 2, 0.3),
            ("output_padding", 0, 2, 0.3),
        ):
            if rng.random() < p:
                fields[key] = _per_dim(rng, n, lo, hi)
        if groups > 1:
            fields["groups"] = groups
        if rng.random() < 0.3:
            fields["bias"] = False
        size_hi = 6 if n == 3 else 10
        return {"kind": kind, "fields": fields, "inputs": [[groups * rng.randint(1, 3), *_spatial(rng, n, 1, size_hi)]]}
    if kind.startswith("conv"):
        groups = rng.choice([1, 1, 1, 2, 3, 4])
        channels = groups * rng.randint(1, 4)
        out = groups * rng.randint(1, 4) if rng.random() < 0.95 else rng.randint(1, 9)
        fields = {"out": out, "kernel": _per_dim(rng, n, 1, 5)}
        if rng.random() < 0.5:
            fields["stride"] = _per_dim(rng, n, 1, 3)
        if rng.random() < 0.5:
            fields["padding"] = rng.choice(["same", "valid", _per_dim(rng, n, 0, 3)])
        if rng.random() < 0.3:
            fields["dilation"] = _per_dim(rng, n, 1, 3)
        if groups > 1:
            fields["groups"] = groups
        if rng.random() < 0.3:
            fields["bias"] = False
        if rng.random() < 0.1:
            fields["padding_mode"] = rng.choice(["reflect", "replicate", "circular"])
            fields["padding"] = rng.randint(1, 3)
        if rng.random() < 0.1:
            fields["weight_norm"] = rng.randint(0, n + 1)
        size_hi = 9 if n == 3 else 16
        return {"kind": kind, "fields": fields, "inputs": [[channels, *_spatial(rng, n, 1, size_hi)]]}
    if kind.startswith(("maxpool", "avgpool")):
        kernel = _per_dim(rng, n, 1, 4)
        fields = {"kernel": kernel}
        if rng.random() < 0.6:
            fields["stride"] = _per_dim(rng, n, 1, 3)
        if rng.random() < 0.5:
            fields["padding"] = _per_dim(rng, n, 0, 2)
        if rng.random() < 0.5:
            fields["ceil_mode"] = True
        if kind.startswith("maxpool") and rng.random() < 0.3:
            fields["dilation"] = _per_dim(rng, n, 1, 2)
        if kind.startswith("avgpool") and rng.random() < 0.3:
            fields["count_include_pad"] = False
        return {"kind": kind, "fields": fields, "inputs": [[rng.randint(1, 4), *_spatial(rng, n, 1, 13)]]}
    if kind.startswith("adaptive"):
        if rng.random() < 0.5:
            out = rng.randint(1, 7)
        else:
            out = [rng.choice([None, rng.randint(1, 7)]) for _ in range(n)]
            if n == 1 and rng.random() < 0.7:  # torch accepts null entries in 2d/3d only
                out = [rng.randint(1, 7)]
        return {"kind": kind, "fields": {"out": out}, "inputs": [[rng.randint(1, 4), *_spatial(rng, n, 1, 13)]]}
    if kind.startswith("batchnorm"):
        if rng.random() < 0.3:
            fields["affine"] = False
        if rng.random() < 0.3:
            fields["track_running_stats"] = False
        rank = {"batchnorm1d": rng.choice([1, 2]), "batchnorm2d": 3, "batchnorm3d": 4}[kind]
        return {"kind": kind, "fields": fields, "inputs": [[rng.randint(1, 64), *_spatial(rng, rank - 1, 2, 6)]]}
    if kind == "linear":
        fields = {"out": rng.randint(1, 300)}
        if rng.random() < 0.3:
            fields["bias"] = False
        lead = _spatial(rng, rng.choice([0, 0, 1, 2]), 1, 5)
        return {"kind": kind, "fields": fields, "inputs": [[*lead, rng.randint(1, 300)]]}
    if kind == "flatten":
        shape = _spatial(rng, rng.randint(1, 4), 1, 6)
        rank = len(shape) + 1
        start = rng.randint(1, rank - 1)
        end = rng.randint(start, rank - 1)
        fields = {
            "start_dim": start - rank if rng.random() < 0.3 else start,
            "end_dim": end - rank if rng.random() < 0.5 else end,
        }
        return {"kind": kind, "fields": fields, "inputs": [shape]}
    if kind in ("softmax", "logsoftmax", "softmin", "glu"):
        shape = _spatial(rng, rng.randint(1, 3), 1, 6)
        if kind == "glu":
            shape[-1] *= 2
        rank = len(shape) + 1
        dim = rng.randint(1, rank - 1)
        if kind == "glu":
            shape[dim - 1] = 2 * rng.randint(1, 4)
        return {"kind": kind, "fields": {"dim": dim - rank if rng.random() < 0.5 else dim}, "inputs": [shape]}
    if kind == "prelu":
        channels = rng.randint(1, 16)
        fields = {"num_parameters": rng.choice([1, channels])}
        return {"kind": kind, "fields": fields, "inputs": [[channels, *_spatial(rng, rng.randint(0, 2), 1, 5)]]}
    if kind == "softmax2d":
        return {"kind": kind, "fields": {}, "inputs": [[rng.randint(1, 4), *_spatial(rng, 2, 1, 5)]]}
    if kind == "threshold":
        return {"kind": kind, "fields": {"threshold": 0.1, "value": 0.0}, "inputs": [_spatial(rng, 3, 1, 5)]}
    if kind in ("add", "mul", "concat"):
        base = _spatial(rng, rng.randint(1, 3), 1, 6)
        count = rng.randint(2, 3)
        if kind == "add":
            return {"kind": kind, "fields": {}, "inputs": [base] * count}
        if kind == "mul":
            shapes = [[s if rng.random() < 0.6 else 1 for s in base] for _ in range(count)]
            return {"kind": kind, "fields": {}, "inputs": shapes}
        rank = len(base) + 1
        dim = rng.randint(1, rank - 1)
        shapes = []
        for _ in range(count):
            s = list(base)
            s[dim - 1] = rng.randint(1, 6)
            shapes.append(s)
        return {"kind": kind, "fields": {"dim": dim - rank if rng.random() < 0.3 else dim}, "inputs": shapes}
    if kind in ("split", "chunk"):
        shape = _spatial(rng, rng.randint(1, 3), 2, 9)
        dim = rng.randint(1, len(shape))
        length = shape[dim - 1]
        if kind == "chunk":
            fields = {"chunks": rng.randint(1, length)}
            pieces = -(-length // -(-length // fields["chunks"]))
        elif rng.random() < 0.5:
            fields = {"size": rng.randint(1, length)}
            pieces = -(-length // fields["size"])
        else:
            cut = rng.randint(1, length - 1)
            fields = {"size": [cut, length - cut]}
            pieces = 2
        fields |= {"dim": dim, "index": rng.randint(0, pieces - 1)}
        return {"kind": kind, "fields": fields, "inputs": [shape]}
    if kind == "channelshuffle":
        groups = rng.randint(1, 4)
        return {
            "kind": kind,
            "fields": {"groups": groups},
            "inputs": [[groups * rng.randint(1, 4), *_spatial(rng, 2, 1, 5)]],
        }
    if kind == "mean":
        shape = _spatial(rng, rng.randint(1, 3), 1, 6)
        dims = rng.sample(range(1, len(shape) + 1), rng.randint(1, len(shape)))
        return {
            "kind": kind,
            "fields": {"dim": dims if len(dims) > 1 else dims[0], "keepdim": rng.random() < 0.5},
            "inputs": [shape],
        }
    if kind == "scale":
        return {
            "kind": kind,
            "fields": {"by": rng.choice([0.125, 2.0, -1.5])},
            "inputs": [_spatial(rng, rng.randint(1, 3))],
        }
    if kind == "attention":
        return {"kind": kind, **_random_attention(rng)}
    if kind in ("router", "experts"):
        return {"kind": kind, **_random_mixture(kind, rng)}
    if kind == "mambamixer":
        r = rng.randint
        fields = {"state": r(1, 6), "conv_kernel": r(1, 4)}
        for key, value in (("intermediate", r(1, 9)), ("expand", r(1, 3)), ("dt_rank", r(1, 4)), ("bias", True)):
            if rng.random() < 0.3:
                fields[key] = value
        if rng.random() < 0.2:
            fields["conv_bias"] = False
        return {"kind": kind, "fields": fields, "inputs": [[r(1, 7), r(1, 12)] if rng.random() < 0.95 else [r(1, 7)]]}
    newer = _random_newer(kind, rng) or _random_issue10(kind, rng)
    if kind == GQA:
        return {"kind": "multiheadattention", **newer}
    if newer:
        return {"kind": kind, **newer}
    # the elementwise rest: activations, dropout, identity
    if kind.startswith("dropout") or kind in ("alphadropout", "featurealphadropout"):
        fields = {"p": rng.choice([0.0, 0.1, 0.5])}
    elif kind == "leakyrelu":
        fields = {"negative_slope": 0.2}
    elif kind == "gelu":
        fields = {"approximate": rng.choice(["none", "tanh"])}
    rank = {"dropout1d": 2, "dropout2d": 3, "dropout3d": 4}.get(kind, rng.randint(1, 3))
    return {"kind": kind, "fields": fields, "inputs": [[rng.randint(1, 8), *_spatial(rng, rank - 1, 1, 6)]]}


ORACLE_KINDS = [
    "conv1d",
    "conv2d",
    "conv3d",
    "convtranspose1d",
    "convtranspose2d",
    "convtranspose3d",
    *TORCH_CLASS,
    "linear",
    "batchnorm1d",
    "batchnorm2d",
    "batchnorm3d",
    "add",
    "mul",
    "concat",
    "split",
    "chunk",
    "mean",
]


def _random_newer(kind, rng):
    """{"fields", "inputs"} for the kinds of the sequence/attention/rearranging families."""
    r = rng.randint
    if kind == "upsample":
        n = r(1, 3)
        mode = rng.choice(
            ["nearest", "nearest-exact", "area", {1: "linear", 2: "bilinear", 3: "trilinear"}[n]]
            + (["bicubic"] if n == 2 else [])
        )
        fields = {"mode": mode}
        if rng.random() < 0.5:
            fields["scale"] = rng.choice([2, 3, 0.5, 1.5, [2] * n if n > 1 else 2.5])
        else:
            fields["size"] = r(1, 9) if rng.random() < 0.5 else [r(1, 9) for _ in range(n)]
        if mode in ("linear", "bilinear", "bicubic", "trilinear") and rng.random() < 0.5:
            fields["align_corners"] = rng.random() < 0.5
        return {"fields": fields, "inputs": [[r(1, 3), *_spatial(rng, n, 1, 6)]]}
    if kind in ("upsamplingnearest2d", "upsamplingbilinear2d"):
        fields = {"scale": r(1, 3)} if rng.random() < 0.5 else {"size": [r(1, 8), r(1, 8)]}
        return {"fields": fields, "inputs": [[r(1, 3), *_spatial(rng, 2, 1, 6)]]}
    if kind == "pixelshuffle":
        f = r(1, 3)
        return {
            "fields": {"factor": f},
            "inputs": [[f * f * r(1, 3) if rng.random() < 0.9 else r(1, 9), r(1, 5), r(1, 5)]],
        }
    if kind == "pixelunshuffle":
        f = r(1, 3)
        return {
            "fields": {"factor": f},
            "inputs": [[r(1, 3), f * r(1, 3), f * r(1, 3) if rng.random() < 0.9 else r(1, 7)]],
        }
    if kind in ("reshape", "view"):
        shape = _spatial(rng, r(1, 3), 1, 6)
        total = 1
        for s in shape:
            total *= s
        target = [total] if rng.random() < 0.3 else [d for d in _factor(total, rng)]
        if rng.random() < 0.4:
            target[rng.randrange(len(target))] = -1
        return {"fields": {"shape": target}, "inputs": [shape]}
    if kind == "unflatten":
        shape = _spatial(rng, r(1, 3), 1, 12)
        dim = r(1, len(shape))
        sizes = _factor(shape[dim - 1], rng)
        return {"fields": {"dim": dim, "sizes": sizes}, "inputs": [shape]}
    if kind == "permute":
        shape = _spatial(rng, r(1, 4), 1, 5)
        rest = list(range(1, len(shape) + 1))
        rng.shuffle(rest)
        dims = [0, *rest] if rng.random() < 0.5 else [0, *(d - len(shape) - 1 for d in rest)]
        return {"fields": {"dims": dims}, "inputs": [shape]}
    if kind == "transpose":
        shape = _spatial(rng, r(2, 4), 1, 5)
        return {"fields": {"dim0": r(1, len(shape)), "dim1": -r(1, len(shape))}, "inputs": [shape]}
    if kind in ("squeeze", "unsqueeze", "select"):
        shape = [rng.choice([1, r(1, 4)]) for _ in range(r(1, 4))]
        if kind == "squeeze":
            fields = {} if rng.random() < 0.3 else {"dim": r(1, len(shape))}
        elif kind == "unsqueeze":
            fields = {"dim": rng.choice([r(1, len(shape) + 1), -r(1, len(shape) + 1)])}
        else:
            dim = r(1, len(shape))
            fields = {"dim": dim, "index": r(-shape[dim - 1], shape[dim - 1] - 1)}
        return {"fields": fields, "inputs": [shape]}
    if kind.endswith(("pad1d", "pad2d", "pad3d")):
        n = int(kind[-2])
        low = -1 if kind.startswith(("zero", "constant")) else 0
        padding = r(low, 3) if rng.random() < 0.4 else [r(low, 3) for _ in range(2 * n)]
        fields = {"padding": padding, **({"value": 0.5} if kind.startswith("constant") else {})}
        return {"fields": fields, "inputs": [[r(1, 3), *_spatial(rng, n, 1, 5)]]}
    if kind in ("layernorm", "rmsnorm"):
        shape = _spatial(rng, r(1, 3), 1, 8)
        fields = {}
        if rng.random() < 0.5:
            fields["shape"] = shape[-r(1, len(shape)) :]
        if rng.random() < 0.3:
            fields["elementwise_affine"] = False
        if kind == "layernorm" and rng.random() < 0.3:
            fields["bias"] = False
        return {"fields": fields, "inputs": [shape]}
    if kind == "groupnorm":
        groups = r(1, 4)
        channels = groups * r(1, 4) if rng.random() < 0.9 else r(1, 9)
        fields = {"groups": groups, **({"affine": False} if rng.random() < 0.3 else {})}
        return {"fields": fields, "inputs": [[channels, *_spatial(rng, r(0, 2), 1, 5)]]}
    if kind.startswith("instancenorm"):
        n = int(kind[-2])
        fields = {"affine": rng.random() < 0.5, "track_running_stats": rng.random() < 0.5}
        return {"fields": fields, "inputs": [[r(1, 8), *_spatial(rng, n, 2, 5)]]}
    if kind == "localresponsenorm":
        return {"fields": {"size": r(1, 5)}, "inputs": [[r(1, 8), *_spatial(rng, r(1, 2), 1, 5)]]}
    if kind in ("embedding", "embeddingbag"):
        fields = {"num": r(1, 500), "dim": r(1, 64)}
        if kind == "embedding" and rng.random() < 0.3:
            fields["padding_idx"] = r(0, fields["num"] - 1)
        if kind == "embeddingbag":
            fields["mode"] = rng.choice(["sum", "mean", "max"])
            return {"fields": fields, "inputs": [[r(1, 9)]]}
        return {"fields": fields, "inputs": [_spatial(rng, r(1, 2), 1, 9)]}
    if kind == "parameter":
        return {"fields": {"shape": _spatial(rng, r(1, 3), 1, 9)}, "inputs": []}
    if kind in ("rnn", "lstm", "gru"):
        hidden = r(1, 12)
        fields = {"hidden": hidden, "layers": r(1, 3)}
        if rng.random() < 0.5:
            fields["bidirectional"] = True
        if rng.random() < 0.3:
            fields["bias"] = False
        if kind == "lstm" and rng.random() < 0.4:
            fields["proj"] = r(0, hidden - 1) if hidden > 1 else 0
        if kind == "rnn" and rng.random() < 0.3:
            fields["nonlinearity"] = "relu"
        return {"fields": fields, "inputs": [[r(1, 9), r(1, 12)]]}
    if kind == "multiheadattention":
        heads = r(1, 4)
        e = heads * r(1, 4)
        fields = {"heads": heads}
        for key in ("bias", "add_bias_kv", "add_zero_attn"):
            if rng.random() < 0.3:
                fields[key] = key != "bias"
        style = rng.choice(["self", "cross", "kdim"])
        if style == "self":
            inputs = [[r(1, 9), e]]
        elif style == "cross":
            inputs = [[r(1, 9), e], [r(1, 9), e]]
        else:
            fields["kdim"], fields["vdim"] = r(1, 7), r(1, 7)
            s = r(1, 9)
            inputs = [[r(1, 9), e], [s, fields["kdim"]], [s, fields["vdim"]]]
        return {"fields": fields, "inputs": inputs}
    if kind in ("transformerencoderlayer", "transformerdecoderlayer"):
        heads = r(1, 4)
        d = heads * r(1, 4)
        fields = {"heads": heads, "ff": r(1, 40), "norm_first": rng.random() < 0.5}
        if rng.random() < 0.3:
            fields["activation"] = "gelu"
        if rng.random() < 0.3:
            fields["bias"] = False
        inputs = [[r(1, 7), d]] + ([[r(1, 7), d]] if kind == "transformerdecoderlayer" else [])
        return {"fields": fields, "inputs": inputs}
    return None


GQA = "multiheadattention (grouped-query, head_dim, per-projection bias, leading dims)"


def _random_issue10(kind, rng):
    r = rng.randint
    if kind in ("matmul", "bmm"):
        n, k, m = r(1, 6), r(1, 6), r(1, 6)
        lead = [] if kind == "bmm" else _spatial(rng, r(0, 2), 1, 4)
        a_lead = [d if rng.random() < 0.7 else 1 for d in lead]
        b_lead = [d if rng.random() < 0.7 else 1 for d in lead]
        k2 = k if rng.random() < 0.9 else k + 1
        return {"fields": {}, "inputs": [[*a_lead, n, k], [*b_lead, k2, m]]}
    if kind == "buffer":
        return {"fields": {"shape": _spatial(rng, r(1, 3), 1, 9)}, "inputs": []}
    if kind == "layernorm2d":
        fields = {}
        if rng.random() < 0.3:
            fields["elementwise_affine"] = False
        if rng.random() < 0.3:
            fields["bias"] = False
        return {"fields": fields, "inputs": [[r(1, 16), r(1, 5), r(1, 5)]]}
    if kind == GQA:
        kv = r(1, 4)
        heads = kv * r(1, 3) if rng.random() < 0.9 else kv * r(1, 3) + 1
        fields = {"heads": heads}
        if kv != heads or rng.random() < 0.5:
            fields["kv_heads"] = kv
        head_dim = r(1, 5)
        e = heads * head_dim
        if rng.random() < 0.5:
            fields["head_dim"] = head_dim
            e = r(1, 12)
        for key in ("bias", "q_bias", "k_bias", "v_bias", "out_bias"):
            if rng.random() < 0.3:
                fields[key] = rng.random() < 0.5
        for key in ("add_bias_kv", "add_zero_attn"):
            if rng.random() < 0.15:
                fields[key] = True
        lead = _spatial(rng, rng.choice([0, 1, 1, 2]), 1, 4)
        style = rng.choice(["self", "cross", "kdim"])
        if style == "self":
            inputs = [[*lead, r(1, 7), e]]
        elif style == "cross":
            inputs = [[*lead, r(1, 7), e], [*lead, r(1, 7), e]]
        else:
            fields["kdim"], fields["vdim"] = r(1, 7), r(1, 7)
            s = r(1, 7)
            inputs = [[*lead, r(1, 7), e], [*lead, s, fields["kdim"]], [*lead, s, fields["vdim"]]]
        return {"fields": fields, "inputs": inputs}
    return None


def _random_attention(rng):
    """An attention operation's case: q, k, v (or one packed q|k|v) of random heads, grouping, head and value
    sizes, leading dims, masks and position treatment."""
    r = rng.randint
    kv = r(1, 3)
    heads = kv * r(1, 3) if rng.random() < 0.9 else kv * r(1, 3) + 1
    d = r(1, 4) * 2
    dv = d if rng.random() < 0.7 else r(1, 5)
    fields: dict = {"heads": heads}
    if kv != heads or rng.random() < 0.3:
        fields["kv_heads"] = kv
    if rng.random() < 0.3:
        fields["head_dim"] = d
    if dv != d or rng.random() < 0.2:
        fields["v_head_dim"] = dv
    for key, value in (
        ("causal", True),
        ("window", r(1, 4)),
        ("softcap", rng.choice([5.0, 30.0])),
        ("sinks", True),
        ("position", rng.choice(["rope", "alibi"])),
        ("scale", 0.5),
    ):
        if rng.random() < 0.3:
            fields[key] = value
    if fields.get("position") == "rope" and rng.random() < 0.5:
        fields["rotary_dim"] = 2 * r(1, d // 2 + 1)
    lead = _spatial(rng, rng.choice([0, 0, 1]), 1, 3)
    length = r(1, 6)
    source = length if fields.get("causal") or rng.random() < 0.5 else r(1, 6)
    if rng.random() < 0.2 and dv == d:
        fields.pop("v_head_dim", None)
        return {"fields": fields, "inputs": [[*lead, length, (heads + 2 * kv) * d]]}
    return {
        "fields": fields,
        "inputs": [[*lead, length, heads * d], [*lead, source, kv * d], [*lead, source, kv * dv]],
    }


def _random_mixture(kind, rng):
    r = rng.randint
    n = r(1, 6)
    fields: dict = {"experts": n, "top_k": r(1, n) if rng.random() < 0.95 else n + 1}
    lead = _spatial(rng, r(0, 2), 1, 4)
    h = r(1, 8)
    if kind == "router":
        for key in ("bias", "correction_bias"):
            if rng.random() < 0.4:
                fields[key] = True
        return {"fields": fields, "inputs": [[*lead, h]]}
    fields["ff"] = r(1, 8)
    for key, value in (("gated", False), ("bias", True), ("shared", r(1, 2))):
        if rng.random() < 0.3:
            fields[key] = value
    return {"fields": fields, "inputs": [[*lead, h], [*lead, n]]}


def _factor(n, rng):
    """n as a product of a few positive integers."""
    parts = []
    for d in (2, 3, 5, 7):
        while n % d == 0 and rng.random() < 0.5:
            parts.append(d)
            n //= d
    parts.append(n)
    rng.shuffle(parts)
    return parts


NEWER_KINDS = [
    "upsample",
    "upsamplingnearest2d",
    "upsamplingbilinear2d",
    "pixelshuffle",
    "pixelunshuffle",
    "reshape",
    "view",
    "unflatten",
    "permute",
    "transpose",
    "squeeze",
    "unsqueeze",
    "select",
    *[f"{p}pad{n}d" for n in (1, 2, 3) for p in ("zero", "constant", "reflection", "replication", "circular")],
    "layernorm",
    "rmsnorm",
    "groupnorm",
    "instancenorm1d",
    "instancenorm2d",
    "instancenorm3d",
    "localresponsenorm",
    "embedding",
    "embeddingbag",
    "parameter",
    "rnn",
    "lstm",
    "gru",
    "multiheadattention",
    "transformerencoderlayer",
    "transformerdecoderlayer",
]
ORACLE_KINDS += NEWER_KINDS
# One scalar per sample (a 1-D batch, as nn.Embedding takes token ids): where torch accepts it, and where not
SCALAR_CASES = [
    {"kind": kind, "fields": fields, "inputs": [[]]}
    for kind, fields in (
        ("embedding", {"num": 10, "dim": 4}),
        ("embedding", {"num": 7, "dim": 3, "padding_idx": 0}),
        ("relu", {}),
        ("prelu", {}),
        ("linear", {"out": 3}),
        ("layernorm", {}),
        ("groupnorm", {"groups": 1}),
        ("channelshuffle", {"groups": 1}),
        ("batchnorm1d", {}),
        ("softmax", {"dim": 1}),
        ("unsqueeze", {"dim": 1}),
    )
]
ISSUE10_KINDS = ["matmul", "bmm", "buffer", "layernorm2d", GQA]  # appended last, so earlier cases keep their seeds
ORACLE_KINDS += ISSUE10_KINDS
ORACLE_KINDS += ["scale"]  # appended last, so earlier cases keep their seeds
ORACLE_KINDS += ["attention"]  # appended last, so earlier cases keep their seeds
ORACLE_KINDS += ["router", "experts"]  # appended last, so earlier cases keep their seeds
ORACLE_KINDS += ["mambamixer"]  # appended last, so earlier cases keep their seeds
