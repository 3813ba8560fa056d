"""Regenerates tests/fixtures/receptive_field.json: receptive fields measured by PyTorch's gradient.

Runs in the torchvision venv, like generate_zoo_fixture.py:

    /work/tv/bin/python tests/generate_rf_fixture.py [MODEL ... | cases]   # all, or update some

(naming models, e.g. `convnext_tiny swin_t`, measures only those and merges them into the
existing fixture, leaving every other entry as it is)

(about half an hour on two cores, most of it DenseNet and the ResNet-50s at their largest inputs)

Method: every weight is a positive constant and every bias zero, BatchNorm is the identity, the
input is all ones, so every value is positive and no two contributions cancel; the input gradient
of one output position is then nonzero exactly on the positions it depends on. Max pooling becomes
average pooling of the same geometry (a max passes gradient to one position only; a dilated pool
becomes a depthwise convolution of the same geometry), and activations that saturate (ReLU6,
hardswish, sigmoid, ...) become the identity (a saturated unit passes no gradient; on positive
values ReLU already is the identity), and so do LayerNorms over the channels at each position
(ConvNeXt, Swin: a constant input has no variance, so they would pass no gradient). Adaptive
pooling to more than one position becomes the fixed pooling it performs at the spec's input size
(its windows depend on the input size); to one position it stays global.

Each module's gradient is taken from several output positions, one at a time: consecutive ones
from the centre (as many as the period of the model's upsampling, whose fields differ from
position to position) and the first and last, whose far edges lie inside the input long before
the field of a centre position fits. For each spatial dim the fixture records [output position,
first and last input position with a nonzero gradient]. The input is made large enough that the
border plays no part: starting at the spec's size, a module is measured again on 2x and 5x larger
inputs until some probe shows each edge of its field clear of the border (or the centre probes
show it whole); one that still covers the whole input at the largest size is global.

Weights are 1 / (input channels per group · sqrt(kernel elements)), so values grow by about
sqrt(kernel) per layer forwards and the corner of the field shrinks by as much backwards; in
float64 (float32 for U-Net) both stay far from the limits even through DenseNet's deepest path.
"""

from __future__ import annotations

import gc
import json
import math
from collections import OrderedDict
from pathlib import Path

import torch
import torchvision
from generate_zoo_fixture import DCGANGenerator, UNet
from torch import nn

OUT = Path(__file__).parent / "fixtures" / "receptive_field.json"
# float32 halves the time of U-Net's 18 probes; its deepest path (23 convolutions) stays far from underflow
FLOAT32 = {"unet", "convnext_tiny", "swin_t"}
SATURATING = (nn.ReLU6, nn.Hardswish, nn.Hardsigmoid, nn.Sigmoid, nn.SiLU, nn.GELU, nn.Tanh, nn.Hardtanh)


def lenet5():
    """specs/lenet5.yaml, its rows named as paramcalc names them."""
    return nn.Sequential(
        OrderedDict(
            [
                ("conv2d_1", nn.Conv2d(1, 6, 5)),
                ("relu_1", nn.ReLU()),
                ("maxpool2d_1", nn.MaxPool2d(2)),
                ("conv2d_2", nn.Conv2d(6, 16, 5)),
                ("relu_2", nn.ReLU()),
                ("maxpool2d_2", nn.MaxPool2d(2)),
            ]
        )
    )


def zoo():
    """Every CNN in specs/: (model, spec input, consecutive centre positions probed, modules measured)."""
    tv = torchvision.models

    def stage(name):  # top-level modules and their children (layer1.0, features.3)
        return name.count(".") <= 1

    def top(name):
        return "." not in name

    return {
        "lenet5": (lenet5(), [1, 32, 32], 1, stage),
        # two (four) stride-2 transposed convolutions: fields repeat every 4 (16) positions
        "unet_small": (UNet(1, 2, widths=(16, 32, 64)), [1, 64, 64], 4, top),
        "alexnet": (tv.alexnet(), [3, 224, 224], 1, stage),
        "vgg16": (tv.vgg16(), [3, 224, 224], 1, top),
        "resnet18": (tv.resnet18(), [3, 224, 224], 1, stage),
        "mobilenet_v2": (tv.mobilenet_v2(), [3, 224, 224], 1, top),
        "mobilenet_v3_large": (tv.mobilenet_v3_large(), [3, 224, 224], 1, top),
        "efficientnet_b0": (tv.efficientnet_b0(), [3, 224, 224], 1, top),
        "resnet50": (tv.resnet50(), [3, 224, 224], 1, top),
        "resnext50_32x4d": (tv.resnext50_32x4d(), [3, 224, 224], 1, top),
        "wide_resnet50_2": (tv.wide_resnet50_2(), [3, 224, 224], 1, top),
        "unet": (UNet(), [3, 256, 256], 16, lambda n: n in ("down4", "up2_conv", "outc")),
        "densenet121": (tv.densenet121(), [3, 224, 224], 0, lambda n: n == "features"),
        # its patches' field; after them the tokens no longer keep the image's layout
        "vit_b_16": (tv.vit_b_16(), [3, 224, 224], 1, lambda n: n == "conv_proj"),
        # its geometry does not depend on the input size; 1x1 noise would leave no room to see a field
        "dcgan_generator": (DCGANGenerator(), [100, 16, 16], 16, stage),
        # stochastic depth is the identity in eval mode; its blocks permute to channels last and back
        "convnext_tiny": (tv.convnext_tiny(), [3, 224, 224], 1, stage),
        # the 4x4 patches' field (features.0 ends channels last); the spec then reshapes the map
        # into windows, after which paramcalc follows no positions (null)
        "swin_t": (tv.swin_t(), [3, 224, 224], 1, lambda n: n == "features.0.0"),
    }


def single_layer_cases():
    """Small networks, each a spec (for paramcalc) and the same layers in torch."""
    c = 2
    cases = []

    def case(name, shape, layers, *modules, probes=8):
        cases.append((name, shape, layers, nn.Sequential(*modules), probes))

    case(
        "conv1d dilated strided",
        [c, 64],
        [{"conv1d": {"out": c, "kernel": 5, "stride": 2, "padding": 4, "dilation": 3}}],
        nn.Conv1d(c, c, 5, stride=2, padding=4, dilation=3),
    )
    case(
        "conv2d per-dim geometry",
        [c, 48, 48],
        [{"conv2d": {"out": c, "kernel": [3, 5], "stride": [2, 1], "padding": [1, 2], "dilation": [2, 1]}}],
        nn.Conv2d(c, c, (3, 5), stride=(2, 1), padding=(1, 2), dilation=(2, 1)),
    )
    case(
        "conv2d padding same",
        [c, 32, 32],
        [{"conv2d": {"out": c, "kernel": 4, "padding": "same", "dilation": 2}}],
        nn.Conv2d(c, c, 4, padding="same", dilation=2),
    )
    case(
        "conv3d strided",
        [c, 24, 24, 24],
        [{"conv3d": {"out": c, "kernel": 3, "stride": 2, "padding": 1}}],
        nn.Conv3d(c, c, 3, stride=2, padding=1),
    )
    case(
        "convtranspose1d",
        [c, 32],
        [{"convtranspose1d": {"out": c, "kernel": 5, "stride": 3, "padding": 1}}],
        nn.ConvTranspose1d(c, c, 5, stride=3, padding=1),
    )
    case(
        "convtranspose2d k4 s2",
        [c, 24, 24],
        [{"convtranspose2d": {"out": c, "kernel": 4, "stride": 2, "padding": 1}}],
        nn.ConvTranspose2d(c, c, 4, stride=2, padding=1),
    )
    case(
        "convtranspose2d gaps (k1 s2)",
        [c, 24, 24],
        [{"convtranspose2d": {"out": c, "kernel": 1, "stride": 2}}],
        nn.ConvTranspose2d(c, c, 1, stride=2),
    )
    case(
        "convtranspose2d dilated",
        [c, 24, 24],
        [{"convtranspose2d": {"out": c, "kernel": 3, "stride": 2, "padding": 1, "dilation": 2, "output_padding": 1}}],
        nn.ConvTranspose2d(c, c, 3, stride=2, padding=1, dilation=2, output_padding=1),
    )
    case(
        "convtranspose3d",
        [c, 12, 12, 12],
        [{"convtranspose3d": {"out": c, "kernel": 2, "stride": 2}}],
        nn.ConvTranspose3d(c, c, 2, stride=2),
    )
    case(
        "maxpool2d padded",
        [c, 32, 32],
        [{"maxpool2d": {"kernel": 3, "stride": 2, "padding": 1}}],
        nn.MaxPool2d(3, 2, 1),
    )
    case(
        "maxpool2d ceil_mode",
        [c, 31, 31],
        [{"maxpool2d": {"kernel": 3, "stride": 2, "ceil_mode": True}}],
        nn.MaxPool2d(3, 2, ceil_mode=True),
    )
    case(
        "maxpool1d dilated",
        [c, 64],
        [{"maxpool1d": {"kernel": 3, "stride": 2, "dilation": 2}}],
        nn.MaxPool1d(3, 2, dilation=2),
    )
    case("avgpool3d", [c, 16, 16, 16], [{"avgpool3d": {"kernel": 2}}], nn.AvgPool3d(2))
    case(
        "adaptiveavgpool2d uneven", [c, 16, 15], [{"adaptiveavgpool2d": {"out": [5, 4]}}], nn.AdaptiveAvgPool2d((5, 4))
    )
    case("adaptivemaxpool1d", [c, 30], [{"adaptivemaxpool1d": {"out": 7}}], nn.AdaptiveMaxPool1d(7))
    case("upsample nearest x2", [c, 16, 16], [{"upsample": {"scale": 2}}], nn.Upsample(scale_factor=2))
    case("upsample nearest x3 1d", [c, 16], [{"upsample": {"scale": 3}}], nn.Upsample(scale_factor=3))
    case("upsample nearest to size", [c, 10, 10], [{"upsample": {"size": [25, 15]}}], nn.Upsample(size=(25, 15)))
    case(
        "upsample bilinear x2",
        [c, 16, 16],
        [{"upsample": {"scale": 2, "mode": "bilinear"}}],
        nn.Upsample(scale_factor=2, mode="bilinear"),
    )
    case(
        "upsample bilinear align_corners",
        [c, 9, 9],
        [{"upsample": {"size": 17, "mode": "bilinear", "align_corners": True}}],
        nn.Upsample(size=17, mode="bilinear", align_corners=True),
    )
    case(
        "upsample bicubic x2",
        [c, 16, 16],
        [{"upsample": {"scale": 2, "mode": "bicubic"}}],
        nn.Upsample(scale_factor=2, mode="bicubic"),
    )
    case(
        "upsample linear x1.5",
        [c, 16],
        [{"upsample": {"scale": 1.5, "mode": "linear"}}],
        nn.Upsample(scale_factor=1.5, mode="linear"),
    )
    case(
        "upsample trilinear x2",
        [c, 8, 8, 8],
        [{"upsample": {"scale": 2, "mode": "trilinear"}}],
        nn.Upsample(scale_factor=2, mode="trilinear"),
    )
    case(
        "upsample nearest-exact x2",
        [c, 16],
        [{"upsample": {"scale": 2, "mode": "nearest-exact"}}],
        nn.Upsample(scale_factor=2, mode="nearest-exact"),
    )
    case("pixelshuffle", [4 * c, 12, 12], [{"pixelshuffle": 2}], nn.PixelShuffle(2))
    case("pixelunshuffle", [c, 24, 24], [{"pixelunshuffle": 2}], nn.PixelUnshuffle(2))
    case(
        "zeropad2d then conv",
        [c, 16, 16],
        [{"zeropad2d": [3, 1, 2, 0]}, {"conv2d": {"out": c, "kernel": 3}}],
        nn.ZeroPad2d((3, 1, 2, 0)),
        nn.Conv2d(c, c, 3),
    )
    case(
        "conv, upsample, conv",
        [c, 32, 32],
        [
            {"conv2d": {"out": c, "kernel": 3, "stride": 2}},
            {"upsample": {"scale": 2}},
            {"conv2d": {"out": c, "kernel": 2}},
        ],
        nn.Conv2d(c, c, 3, stride=2),
        nn.Upsample(scale_factor=2),
        nn.Conv2d(c, c, 2),
    )
    case(
        "strided conv, transposed conv, conv",
        [c, 32, 32],
        [
            {"conv2d": {"out": c, "kernel": 3, "stride": 2, "padding": 1}},
            {"convtranspose2d": {"out": c, "kernel": 3, "stride": 3}},
            {"conv2d": {"out": c, "kernel": 2}},
        ],
        nn.Conv2d(c, c, 3, stride=2, padding=1),
        nn.ConvTranspose2d(c, c, 3, stride=3),
        nn.Conv2d(c, c, 2),
    )
    return cases


def prepare(model: nn.Module) -> nn.Module:
    """Positive constant weights, and the substitutions the module docstring explains."""
    for name, module in list(model.named_modules()):
        if hasattr(module, "inplace"):
            module.inplace = False  # hooks keep outputs that an in-place ReLU would overwrite
        replacement = None
        if isinstance(module, SATURATING):
            replacement = nn.Identity()
        elif isinstance(module, nn.LayerNorm):  # torchvision's LayerNorm2d too
            # per position over the channels, so it moves no field; on a constant input its variance
            # is 0 and it would pass no gradient at all
            assert len(module.normalized_shape) == 1, name
            replacement = nn.Identity()
        elif isinstance(module, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)):
            replacement = avg_pool_like(module)
        elif isinstance(module, nn.modules.pooling._AdaptiveMaxPoolNd):
            replacement = {
                nn.AdaptiveMaxPool1d: nn.AdaptiveAvgPool1d,
                nn.AdaptiveMaxPool2d: nn.AdaptiveAvgPool2d,
                nn.AdaptiveMaxPool3d: nn.AdaptiveAvgPool3d,
            }[type(module)](module.output_size)
        if replacement is not None:
            parent, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent) if parent else model, child, replacement)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(
                module,
                (
                    nn.Conv1d,
                    nn.Conv2d,
                    nn.Conv3d,
                    nn.ConvTranspose1d,
                    nn.ConvTranspose2d,
                    nn.ConvTranspose3d,
                    nn.Linear,
                ),
            ):
                w = module.weight
                per_group = w.shape[0] if isinstance(module, nn.modules.conv._ConvTransposeNd) else w.shape[1]
                kernel = math.prod(w.shape[2:])
                w.fill_(1 / (per_group * math.sqrt(kernel)))
                if module.bias is not None:
                    module.bias.zero_()
            elif isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.reset_running_stats()
                module.weight.fill_(1)
                module.bias.zero_()
            elif isinstance(module, nn.Embedding):
                module.weight.fill_(1)
            elif isinstance(module, torchvision.models.convnext.CNBlock):
                module.layer_scale.fill_(1)  # 1e-6: eighteen of them would underflow
            elif isinstance(module, torchvision.models.swin_transformer.ShiftedWindowAttention):
                module.relative_position_bias_table.zero_()
    return model.eval()


def avg_pool_like(pool):
    n = {nn.MaxPool1d: 1, nn.MaxPool2d: 2, nn.MaxPool3d: 3}[type(pool)]

    def tup(v):
        return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n

    if any(d != 1 for d in tup(pool.dilation)):
        return DepthwiseOnes(n, tup(pool.kernel_size), tup(pool.stride), tup(pool.padding), tup(pool.dilation))
    return [nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d][n - 1](
        pool.kernel_size, pool.stride, pool.padding, pool.ceil_mode
    )


class DepthwiseOnes(nn.Module):
    """A dilated pooling window as a depthwise convolution with constant weights."""

    def __init__(self, n, kernel, stride, padding, dilation):
        super().__init__()
        self.n, self.kernel, self.stride, self.padding, self.dilation = n, kernel, stride, padding, dilation

    def forward(self, x):
        weight = torch.full((x.shape[1], 1, *self.kernel), 1 / math.prod(self.kernel), dtype=x.dtype)
        conv = [nn.functional.conv1d, nn.functional.conv2d, nn.functional.conv3d][self.n - 1]
        return conv(x, weight, None, self.stride, self.padding, self.dilation, x.shape[1])


def fix_adaptive_pools(model: nn.Module, shape, dtype):
    """Adaptive pools with more than one output position -> the fixed pooling they do at the spec's size."""
    sizes = {}
    hooks = [
        m.register_forward_hook(lambda m, args, out, key=name: sizes.__setitem__(key, (args[0].shape, out.shape)))
        for name, m in model.named_modules()
        if isinstance(m, nn.modules.pooling._AdaptiveAvgPoolNd) or isinstance(m, nn.modules.pooling._AdaptiveMaxPoolNd)
    ]
    with torch.no_grad():
        model(torch.ones(1, *shape, dtype=dtype))
    for h in hooks:
        h.remove()
    for name, (ins, outs) in sizes.items():
        if all(o == 1 for o in outs[2:]):
            continue
        n = len(outs) - 2
        assert all(i % o == 0 for i, o in zip(ins[2:], outs[2:])), f"{name}: uneven adaptive pooling"
        kernel = tuple(i // o for i, o in zip(ins[2:], outs[2:]))
        parent, _, child = name.rpartition(".")
        setattr(
            model.get_submodule(parent) if parent else model,
            child,
            [nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d][n - 1](kernel, kernel),
        )


def probes_for(spatial, centre):
    """Output positions probed: `centre` consecutive ones from the middle (covering any upsampling's
    period), and the first and last, whose far edges stay inside a smaller input."""
    n = spatial
    picks = [n // 2 + b for b in range(centre) if n // 2 + b < n] + [0, n - 1]
    return list(dict.fromkeys(picks))


def extents(model, shape, centre, names, dtype):
    """For each named module: per spatial dim, [output position, first, last input position with a
    nonzero gradient] for each probed position (the same positions along every dim). One probe at a
    time, so that the largest inputs fit in memory."""
    outputs = {}
    hooks = [
        m.register_forward_hook(lambda m, args, out, key=name: outputs.__setitem__(key, out))
        for name, m in model.named_modules()
        if name in names
    ]
    spans: dict[str, list] = {}
    spatial_in = shape[1:]
    for probe in range(centre + 2):
        outputs.clear()
        x = torch.ones(1, *shape, dtype=dtype, requires_grad=True)
        model(x)
        for name in names:
            out = outputs.get(name)
            if not isinstance(out, torch.Tensor) or out.dim() != len(shape) + 1:
                continue
            per_dim = [probes_for(s, centre) for s in out.shape[2:]]
            if probe >= max(len(p) for p in per_dim):
                continue
            position = [p[min(probe, len(p) - 1)] for p in per_dim]
            (grad,) = torch.autograd.grad(out[(0, slice(None), *position)].sum(), x, retain_graph=True)
            found = spans.setdefault(name, [[] for _ in per_dim])
            for d in range(len(per_dim)):
                others = tuple(i for i in range(len(shape)) if i != d + 1)
                hit = (grad[0] != 0).any(dim=others).nonzero().flatten()
                # a position may read nothing at all (between a transposed convolution's taps)
                span = [position[d], int(hit.min()), int(hit.max())] if len(hit) else [position[d], None, None]
                if span not in found[d]:
                    found[d].append(span)
        del x
    for h in hooks:
        h.remove()
    result = {}
    for name, dims in spans.items():
        covers = all(lo == 0 and hi == n - 1 for d, n in zip(dims, spatial_in) for _, lo, hi in d)
        result[name] = {
            "input": list(shape),
            "dims": [sorted(d, key=lambda s: s[0]) for d in dims],
            "covers_input": covers,
        }
    return result


def resolved(m) -> bool:
    """Enough of the field is clear of the border to check it: the centre probes entirely, or (a
    field that moves evenly) some probe's first edge and some probe's last edge."""
    n = m["input"][1:]
    for spans, size in zip(m["dims"], n):
        inside = [(lo > 0, hi < size - 1) for _, lo, hi in spans if lo is not None]
        if not (any(a and b for a, b in inside) or (any(a for a, _ in inside) and any(b for _, b in inside))):
            return False
    return True


def measure(model, shape, centre, keep, growth=(1, 2, 5), dtype=torch.float64, fixed_size=False):
    """Measure the modules `keep` selects, on inputs grown (by the factors in `growth`) until each
    field can be checked; one that still covers the whole input at the largest size is global."""
    prepare(model).to(dtype)
    if not fixed_size:
        fix_adaptive_pools(model, shape, dtype)
    pending = [name for name, _ in model.named_modules() if name and keep(name)]
    found = {}
    for factor in [1] if fixed_size else growth:
        size = [shape[0], *(factor * s for s in shape[1:])]
        for name, m in extents(model, size, centre, pending, dtype).items():
            found[name] = m
        pending = [n for n in pending if n in found and (found[n]["covers_input"] or not resolved(found[n]))]
        if not pending:
            break
    for name, m in found.items():
        m["global"] = m["covers_input"] and name in pending
        if name in pending and not m["global"] and not fixed_size:
            raise SystemExit(f"{name}: the field is still clipped at {m['input']}")
    return found


def main(only: list[str]):
    """Everything, or only the named models (and `cases`), updating the existing fixture."""
    torch.manual_seed(0)
    result = {"torch": torch.__version__, "torchvision": torchvision.__version__, "models": {}, "cases": []}
    if only and OUT.exists():
        result = json.loads(OUT.read_text()) | {"torch": torch.__version__, "torchvision": torchvision.__version__}
    models = zoo()
    for name in list(models):
        model, shape, centre, keep = models.pop(name)  # so that each is freed once measured
        if only and name not in only:
            continue
        result["models"][name] = measure(
            model, shape, centre, keep, dtype=torch.float32 if name in FLOAT32 else torch.float64
        )
        del model
        gc.collect()
        print(
            name,
            {
                k: v["global"] or [max(hi - lo + 1 for _, lo, hi in d) for d in v["dims"]]
                for k, v in result["models"][name].items()
            },
            flush=True,
        )
        OUT.write_text(json.dumps(result, indent=1) + "\n")
    if only and "cases" not in only:
        return
    result["cases"] = []
    for name, shape, layers, model, centre in single_layer_cases():
        adaptive = any(k.startswith("adaptive") for layer in layers for k in layer)
        last = str(len(layers) - 1)
        field = measure(model, shape, centre, lambda n, last=last: n == last, fixed_size=adaptive)
        field = field[last]
        result["cases"].append({"name": name, "input": shape, "layers": layers, "field": field})
        print(name, [max(hi - lo + 1 for _, lo, hi in d if lo is not None) for d in field["dims"]], flush=True)
    OUT.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
