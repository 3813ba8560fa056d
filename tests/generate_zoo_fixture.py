"""Regenerates tests/fixtures/zoo.json: what torch/torchvision report for every model in specs/.

torchvision does not import beside the torch==2.13.0 test oracle, so this runs in its own venv:

    python -m venv /tmp/tv && /tmp/tv/bin/pip install torch==2.14.1 torchvision==0.29.1
    /tmp/tv/bin/python tests/generate_zoo_fixture.py

Per model it records total params, buffers and MACs (torch.utils.flop_counter.FlopCounterMode / 2,
attention on the math backend), the output shape, and for every named submodule called exactly once
its per-sample output shape and parameter count, so the tests can compare spec blocks named like
torchvision's modules (layer1, layer1.0, features.3, ...).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torchvision
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

OUT = Path(__file__).parent / "fixtures" / "zoo.json"


class DoubleConv(nn.Sequential):
    def __init__(self, cin, cout):
        super().__init__(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class UNet(nn.Module):
    """The classic U-Net (Ronneberger et al. 2015) with padded convolutions, batch norm and transposed-conv
    upsampling, as in milesial/Pytorch-UNet's UNet(n_channels=3, n_classes=2, bilinear=False)."""

    def __init__(self, n_channels=3, n_classes=2):
        super().__init__()
        widths = [64, 128, 256, 512, 1024]
        self.inc = DoubleConv(n_channels, 64)
        for i, (a, b) in enumerate(zip(widths, widths[1:]), 1):   # down1..down4, named as in specs/unet.yaml
            setattr(self, f"down{i}", nn.Sequential(nn.MaxPool2d(2), DoubleConv(a, b)))
        for i, (a, b) in enumerate(zip(widths[::-1][1:], widths[::-1]), 1):
            setattr(self, f"up{i}", nn.ConvTranspose2d(b, a, 2, stride=2))
            setattr(self, f"up{i}_conv", DoubleConv(b, a))
        self.outc = nn.Conv2d(64, n_classes, 1)

    def forward(self, x):
        skips = [self.inc(x)]
        for i in range(1, 5):
            skips.append(getattr(self, f"down{i}")(skips[-1]))
        x = skips.pop()
        for i in range(1, 5):
            x = getattr(self, f"up{i}_conv")(torch.cat([skips.pop(), getattr(self, f"up{i}")(x)], dim=1))
        return self.outc(x)


def models():
    tv = torchvision.models
    return {
        "alexnet": (tv.alexnet(), [3, 224, 224]),
        "vgg16": (tv.vgg16(), [3, 224, 224]),
        "resnet18": (tv.resnet18(), [3, 224, 224]),
        "resnet50": (tv.resnet50(), [3, 224, 224]),
        "resnext50_32x4d": (tv.resnext50_32x4d(), [3, 224, 224]),
        "wide_resnet50_2": (tv.wide_resnet50_2(), [3, 224, 224]),
        "mobilenet_v2": (tv.mobilenet_v2(), [3, 224, 224]),
        "mobilenet_v3_large": (tv.mobilenet_v3_large(), [3, 224, 224]),
        "efficientnet_b0": (tv.efficientnet_b0(), [3, 224, 224]),
        "densenet121": (tv.densenet121(), [3, 224, 224]),
        "unet": (UNet(), [3, 256, 256]),
    }


def measure(model: nn.Module, shape):
    model.eval()
    calls: dict[str, list] = {}

    def hook(name):
        def record(module, args, out):
            if isinstance(out, torch.Tensor):
                calls.setdefault(name, []).append(list(out.shape[1:]))
        return record

    handles = [m.register_forward_hook(hook(name)) for name, m in model.named_modules() if name]
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter, sdpa_kernel(SDPBackend.MATH):
        out = model(torch.randn(1, *shape))
    for h in handles:
        h.remove()
    modules = {}
    for name, m in model.named_modules():
        if name and len(calls.get(name, [])) == 1:
            modules[name] = {"output_shape": calls[name][0], "params": sum(p.numel() for p in m.parameters())}
    return {
        "input": shape,
        "params": sum(p.numel() for p in model.parameters()),
        "buffers": sum(b.numel() for b in model.buffers()),
        "macs": counter.get_total_flops() // 2,
        "output_shape": list(out.shape[1:]),
        "modules": modules,
    }


def main():
    torch.manual_seed(0)
    result = {"torch": torch.__version__, "torchvision": torchvision.__version__, "models": {}}
    for name, (model, shape) in models().items():
        result["models"][name] = measure(model, shape)
        m = result["models"][name]
        print(f"{name}: {m['params']:,} params, {m['macs'] / 1e9:.3f} GMACs, {m['buffers']:,} buffers")
    OUT.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
