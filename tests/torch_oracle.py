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
    shape = in_shapes[0]
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
    if kind == "concat":
        return lambda *xs: torch.cat(xs, dim=fields.get("dim", 1))
    if kind == "split":
        return lambda x: torch.split(x, fields["size"], dim=fields.get("dim", 1))[fields.get("index", 0)]
    if kind == "chunk":
        return lambda x: torch.chunk(x, fields["chunks"], dim=fields.get("dim", 1))[fields.get("index", 0)]
    if kind == "mean":
        return lambda x: torch.mean(x, dim=fields["dim"], keepdim=fields.get("keepdim", False))
    return getattr(nn, TORCH_CLASS[kind])(**kwargs)


TORCH_CLASS = {
    **{f"maxpool{d}": f"MaxPool{d}" for d in SPATIAL}, **{f"avgpool{d}": f"AvgPool{d}" for d in SPATIAL},
    **{f"adaptiveavgpool{d}": f"AdaptiveAvgPool{d}" for d in SPATIAL},
    **{f"adaptivemaxpool{d}": f"AdaptiveMaxPool{d}" for d in SPATIAL},
    "flatten": "Flatten", "identity": "Identity", "dropout": "Dropout", "dropout1d": "Dropout1d",
    "dropout2d": "Dropout2d", "dropout3d": "Dropout3d", "alphadropout": "AlphaDropout",
    "featurealphadropout": "FeatureAlphaDropout", "relu": "ReLU", "relu6": "ReLU6", "leakyrelu": "LeakyReLU",
    "elu": "ELU", "celu": "CELU", "selu": "SELU", "gelu": "GELU", "silu": "SiLU", "mish": "Mish",
    "hardswish": "Hardswish", "hardsigmoid": "Hardsigmoid", "hardtanh": "Hardtanh", "sigmoid": "Sigmoid",
    "tanh": "Tanh", "logsigmoid": "LogSigmoid", "softsign": "Softsign", "tanhshrink": "Tanhshrink",
    "softplus": "Softplus", "hardshrink": "Hardshrink", "softshrink": "Softshrink", "threshold": "Threshold",
    "rrelu": "RReLU", "softmax": "Softmax", "logsoftmax": "LogSoftmax", "softmin": "Softmin",
    "softmax2d": "Softmax2d", "prelu": "PReLU", "glu": "GLU", "channelshuffle": "ChannelShuffle",
}


def measure(case: dict) -> dict:
    """What torch reports for a case: output shape (per sample), weights, bias, buffers, MACs;
    or {"error": message} when torch refuses it."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    kind, fields, inputs = case["kind"], case["fields"], case["inputs"]
    try:
        module = torch_call(kind, fields, inputs)
        if isinstance(module, torch.nn.Module):
            module.eval()
        # Batch 2: a batch of 1 trips training-only checks (BatchNorm without running stats).
        xs = [torch.randn(BATCH, *shape) for shape in inputs]
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:
            out = module(*xs)
    except (RuntimeError, ValueError, TypeError, IndexError) as e:
        return {"error": str(e).split("\n")[0][:200]}
    if isinstance(out, tuple):  # return_indices=True
        out = out[0]
    if out.numel() == 0:
        # torch returns an empty tensor for e.g. a transposed conv whose padding eats the output;
        # paramcalc refuses any layer whose output has a zero-size dim, so this counts as rejected.
        return {"error": f"empty output {list(out.shape)}"}
    params = dict(module.named_parameters()) if isinstance(module, torch.nn.Module) else {}
    buffers = list(module.buffers()) if isinstance(module, torch.nn.Module) else []
    bias = sum(p.numel() for name, p in params.items() if name.split(".")[-1].startswith("bias"))
    total = sum(p.numel() for p in params.values())
    flops = counter.get_total_flops()
    assert flops % (2 * BATCH) == 0
    return {"output_shape": list(out.shape[1:]), "weights": total - bias, "bias": bias,
            "buffers": sum(b.numel() for b in buffers), "macs": flops // (2 * BATCH)}


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
        for key, lo, hi, p in (("stride", 1, 3, 0.6), ("padding", 0, 2, 0.4), ("dilation", 1, 2, 0.3),
                               ("output_padding", 0, 2, 0.3)):
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
        fields = {"start_dim": start - rank if rng.random() < 0.3 else start,
                  "end_dim": end - rank if rng.random() < 0.5 else end}
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
        return {"kind": kind, "fields": {"groups": groups},
                "inputs": [[groups * rng.randint(1, 4), *_spatial(rng, 2, 1, 5)]]}
    if kind == "mean":
        shape = _spatial(rng, rng.randint(1, 3), 1, 6)
        dims = rng.sample(range(1, len(shape) + 1), rng.randint(1, len(shape)))
        return {"kind": kind, "fields": {"dim": dims if len(dims) > 1 else dims[0], "keepdim": rng.random() < 0.5},
                "inputs": [shape]}
    # the elementwise rest: activations, dropout, identity
    if kind.startswith("dropout") or kind in ("alphadropout", "featurealphadropout"):
        fields = {"p": rng.choice([0.0, 0.1, 0.5])}
    elif kind == "leakyrelu":
        fields = {"negative_slope": 0.2}
    elif kind == "gelu":
        fields = {"approximate": rng.choice(["none", "tanh"])}
    rank = {"dropout1d": 2, "dropout2d": 3, "dropout3d": 4}.get(kind, rng.randint(1, 3))
    return {"kind": kind, "fields": fields, "inputs": [[rng.randint(1, 8), *_spatial(rng, rank - 1, 1, 6)]]}


ORACLE_KINDS = ["conv1d", "conv2d", "conv3d", "convtranspose1d", "convtranspose2d", "convtranspose3d", *TORCH_CLASS, "linear", "batchnorm1d", "batchnorm2d", "batchnorm3d",
                "add", "mul", "concat", "split", "chunk", "mean"]
