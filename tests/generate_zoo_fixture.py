"""Regenerates tests/fixtures/zoo.json: what torch/torchvision report for every model in specs/.

torchvision does not import beside the torch==2.13.0 test oracle, so this runs in its own venv:

    python -m venv /tmp/tv && /tmp/tv/bin/pip install torch==2.14.1 torchvision==0.29.1
    /tmp/tv/bin/python tests/generate_zoo_fixture.py

Models that torchvision lacks (U-Nets, GPT-2, a DCGAN generator, an LSTM language model) are rebuilt
here in plain torch from the reference named in their docstrings. Per model it records total params
(shared weights once, as model.parameters() does), buffers and MACs (torch.utils.flop_counter.FlopCounterMode / 2,
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
    upsampling, as milesial/Pytorch-UNet's UNet(n_channels, n_classes, bilinear=False) builds it
    (unet/unet_parts.py: DoubleConv, Down, Up, OutConv), with `widths` to make smaller ones."""

    def __init__(self, n_channels=3, n_classes=2, widths=(64, 128, 256, 512, 1024)):
        super().__init__()
        self.levels = len(widths) - 1
        self.inc = DoubleConv(n_channels, widths[0])
        for i, (a, b) in enumerate(zip(widths, widths[1:]), 1):   # down1..., named as in specs/unet.yaml
            setattr(self, f"down{i}", nn.Sequential(nn.MaxPool2d(2), DoubleConv(a, b)))
        for i, (a, b) in enumerate(zip(widths[::-1][1:], widths[::-1]), 1):
            setattr(self, f"up{i}", nn.ConvTranspose2d(b, a, 2, stride=2))
            setattr(self, f"up{i}_conv", DoubleConv(b, a))
        self.outc = nn.Conv2d(widths[0], n_classes, 1)

    def forward(self, x):
        skips = [self.inc(x)]
        for i in range(1, self.levels + 1):
            skips.append(getattr(self, f"down{i}")(skips[-1]))
        x = skips.pop()
        for i in range(1, self.levels + 1):
            x = getattr(self, f"up{i}_conv")(torch.cat([skips.pop(), getattr(self, f"up{i}")(x)], dim=1))
        return self.outc(x)


class GPT2Block(nn.Module):
    def __init__(self, d=768, heads=12):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential()
        self.mlp.add_module("c_fc", nn.Linear(d, 4 * d))
        self.mlp.add_module("act", nn.GELU(approximate="tanh"))
        self.mlp.add_module("c_proj", nn.Linear(4 * d, d))

    def forward(self, x):
        h = self.ln_1(x)
        causal = torch.ones(x.shape[1], x.shape[1], dtype=torch.bool).triu(1)
        x = x + self.attn(h, h, h, attn_mask=causal, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class GPT2(nn.Module):
    """GPT-2 small (Radford et al. 2019) as in HF transformers' GPT2LMHeadModel('gpt2'): its c_attn/c_proj
    pair holds exactly nn.MultiheadAttention's parameters; the output head shares wte's weight."""

    def __init__(self, vocab=50257, context=1024, d=768, layers=12, heads=12, tie=True):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(context, d)
        self.drop = nn.Dropout(0.1)
        self.h = nn.ModuleList(GPT2Block(d, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d)
        self.lm_head = nn.Linear(d, vocab, bias=False)
        if tie:
            self.lm_head.weight = self.wte.weight

    def forward(self, tokens):
        x = self.drop(self.wte(tokens) + self.wpe(torch.arange(tokens.shape[1]).unsqueeze(0)))
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))


class DCGANGenerator(nn.Module):
    """The generator of PyTorch's DCGAN tutorial (nz=100, ngf=64, nc=3)."""

    def __init__(self, nz=100, ngf=64, nc=3):
        super().__init__()
        layers, cin = [], nz
        for i, mult in enumerate((8, 4, 2, 1)):
            layers += [nn.ConvTranspose2d(cin, ngf * mult, 4, 1 if i == 0 else 2, 0 if i == 0 else 1, bias=False),
                       nn.BatchNorm2d(ngf * mult), nn.ReLU(True)]
            cin = ngf * mult
        self.main = nn.Sequential(*layers, nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())

    def forward(self, z):
        return self.main(z)


class LSTMLanguageModel(nn.Module):
    """PyTorch's examples/word_language_model RNNModel('LSTM', ntoken=33278, ninp=650, nhid=650, nlayers=2,
    dropout=0.5): the medium model on WikiText-2's vocabulary, untied."""

    def __init__(self, ntoken=33278, ninp=650, nhid=650, nlayers=2, dropout=0.5):
        super().__init__()
        self.encoder = nn.Embedding(ntoken, ninp)
        self.drop = nn.Dropout(dropout)
        self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=dropout, batch_first=True)
        self.decoder = nn.Linear(nhid, ntoken)

    def forward(self, tokens):
        out = self.rnn(self.drop(self.encoder(tokens)))[0]
        return self.decoder(self.drop(out))


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
        "unet_small": (UNet(1, 2, widths=(16, 32, 64)), [1, 64, 64]),
        "vit_b_16": (tv.vit_b_16(), [3, 224, 224]),
        "gpt2": (GPT2(), [1024]),
        "dcgan_generator": (DCGANGenerator(), [100, 1, 1]),
        "lstm_lm": (LSTMLanguageModel(), [35]),
    }


TOKENS = {"gpt2": 50257, "lstm_lm": 33278}   # models whose input is token ids (vocabulary size)


def measure(model: nn.Module, shape, vocab=None):
    model.eval()
    calls: dict[str, list] = {}

    def hook(name):
        def record(module, args, out):
            if isinstance(out, tuple):   # an LSTM's (output, (h, c)): the output is what flows on
                out = out[0]
            if isinstance(out, torch.Tensor):
                calls.setdefault(name, []).append(list(out.shape[1:]))
        return record

    handles = [m.register_forward_hook(hook(name)) for name, m in model.named_modules() if name]
    counter = FlopCounterMode(display=False)
    x = torch.randint(0, vocab, (1, *shape)) if vocab else torch.randn(1, *shape)
    # Fused kernels (oneDNN's LSTM, the attention fast path) hide their work from the flop counter.
    torch.backends.mha.set_fastpath_enabled(False)
    with torch.no_grad(), counter, sdpa_kernel(SDPBackend.MATH), torch.backends.mkldnn.flags(enabled=False):
        out = model(x)
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
        result["models"][name] = measure(model, shape, TOKENS.get(name))
        m = result["models"][name]
        print(f"{name}: {m['params']:,} params, {m['macs'] / 1e9:.3f} GMACs, {m['buffers']:,} buffers")
    OUT.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
