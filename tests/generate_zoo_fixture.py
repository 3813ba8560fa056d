"""Regenerates tests/fixtures/zoo.json: what torch/torchvision report for every model in specs/.

torchvision does not import beside the torch==2.13.0 test oracle, so this runs in its own venv:

    python -m venv /tmp/tv && /tmp/tv/bin/pip install torch==2.14.1 torchvision==0.29.1
    /tmp/tv/bin/python tests/generate_zoo_fixture.py

Models that torchvision lacks (U-Nets, GPT-2, a DCGAN generator, an LSTM language model, BERT-base, the
Llama-family TinyLlama-1.1B) are rebuilt here in plain torch from the reference named in their docstrings.
Per model it records total params
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
        super().__init__(
            nn.Conv2d(cin, cout, 3, padding=1),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


class UNet(nn.Module):
    """The classic U-Net (Ronneberger et al. 2015) with padded convolutions, batch norm and transposed-conv
    upsampling, as milesial/Pytorch-UNet's UNet(n_channels, n_classes, bilinear=False) builds it
    (unet/unet_parts.py: DoubleConv, Down, Up, OutConv), with `widths` to make smaller ones."""

    def __init__(self, n_channels=3, n_classes=2, widths=(64, 128, 256, 512, 1024)):
        super().__init__()
        self.levels = len(widths) - 1
        self.inc = DoubleConv(n_channels, widths[0])
        for i, (a, b) in enumerate(zip(widths, widths[1:]), 1):  # down1..., named as in specs/unet.yaml
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
            layers += [
                nn.ConvTranspose2d(cin, ngf * mult, 4, 1 if i == 0 else 2, 0 if i == 0 else 1, bias=False),
                nn.BatchNorm2d(ngf * mult),
                nn.ReLU(True),
            ]
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


class BertSelfAttention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.dropout = nn.Dropout(0.1)

    def forward(self, x):
        def split(t):
            return t.unflatten(-1, (self.heads, -1)).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / (q.shape[-1] ** 0.5)
        context = torch.matmul(self.dropout(scores.softmax(-1)), v)
        return context.transpose(1, 2).flatten(2)


class BertSelfOutput(nn.Module):  # also BertOutput (from the intermediate width): dense, dropout, residual, LayerNorm
    def __init__(self, d_in, d, eps=1e-12):
        super().__init__()
        self.dense = nn.Linear(d_in, d)
        self.LayerNorm = nn.LayerNorm(d, eps=eps)
        self.dropout = nn.Dropout(0.1)

    def forward(self, x, residual):
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)


class BertAttention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.self = BertSelfAttention(d, heads)
        self.output = BertSelfOutput(d, d)

    def forward(self, x):
        return self.output(self.self(x), x)


class BertIntermediate(nn.Module):
    def __init__(self, d, ff):
        super().__init__()
        self.dense = nn.Linear(d, ff)
        self.intermediate_act_fn = nn.GELU()

    def forward(self, x):
        return self.intermediate_act_fn(self.dense(x))


class BertLayer(nn.Module):
    def __init__(self, d, heads, ff):
        super().__init__()
        self.attention = BertAttention(d, heads)
        self.intermediate = BertIntermediate(d, ff)
        self.output = BertSelfOutput(ff, d)

    def forward(self, x):
        h = self.attention(x)
        return self.output(self.intermediate(h), h)


class BertEmbeddings(nn.Module):
    def __init__(self, vocab, d, positions, types):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, d, padding_idx=0)
        self.position_embeddings = nn.Embedding(positions, d)
        self.token_type_embeddings = nn.Embedding(types, d)
        self.LayerNorm = nn.LayerNorm(d, eps=1e-12)
        self.dropout = nn.Dropout(0.1)
        self.register_buffer("position_ids", torch.arange(positions).expand((1, -1)), persistent=False)
        self.register_buffer("token_type_ids", torch.zeros(1, positions, dtype=torch.long), persistent=False)

    def forward(self, tokens):
        n = tokens.shape[1]
        types = self.token_type_ids[:, :n].expand(tokens.shape[0], n)
        x = self.word_embeddings(tokens) + self.token_type_embeddings(types)
        x = x + self.position_embeddings(self.position_ids[:, :n])
        return self.dropout(self.LayerNorm(x))


class BertEncoder(nn.Module):
    def __init__(self, d, layers, heads, ff):
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(d, heads, ff) for _ in range(layers))

    def forward(self, x):
        for layer in self.layer:
            x = layer(x)
        return x


class BertPooler(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.dense = nn.Linear(d, d)
        self.activation = nn.Tanh()

    def forward(self, x):
        return self.activation(self.dense(x[:, 0]))


class BertModel(nn.Module):
    """BERT-base (Devlin et al. 2018) as HF transformers' BertModel (models/bert/modeling_bert.py) builds it
    for bert-base-uncased: vocab 30522, 512 positions, 2 token types, 12 post-norm layers of 768 with 12
    heads and a 3072 GELU MLP, LayerNorm eps 1e-12, the position_ids and token_type_ids buffers (1, 512),
    and the pooler (dense + tanh on the first token), which it returns."""

    def __init__(self, vocab=30522, d=768, layers=12, heads=12, ff=3072, positions=512, types=2):
        super().__init__()
        self.embeddings = BertEmbeddings(vocab, d, positions, types)
        self.encoder = BertEncoder(d, layers, heads, ff)
        self.pooler = BertPooler(d)

    def forward(self, tokens):
        return self.pooler(self.encoder(self.embeddings(tokens)))


class LlamaAttention(nn.Module):
    def __init__(self, d, heads, kv_heads):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, d // heads
        self.q_proj = nn.Linear(d, heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(d, kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(d, kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(heads * self.head_dim, d, bias=False)

    def forward(self, x, cos, sin):
        def split(t, n):
            return t.unflatten(-1, (n, self.head_dim)).transpose(1, 2)

        def rotate(t):  # apply_rotary_pos_emb: t·cos + rotate_half(t)·sin (elementwise, no MACs)
            half = t.shape[-1] // 2
            return t * cos + torch.cat((-t[..., half:], t[..., :half]), dim=-1) * sin

        q, k = rotate(split(self.q_proj(x), self.heads)), rotate(split(self.k_proj(x), self.kv_heads))
        out = nn.functional.scaled_dot_product_attention(
            q, k, split(self.v_proj(x), self.kv_heads), is_causal=True, enable_gqa=True
        )
        return self.o_proj(out.transpose(1, 2).flatten(2))


class LlamaMLP(nn.Module):
    def __init__(self, d, ff):
        super().__init__()
        self.gate_proj = nn.Linear(d, ff, bias=False)
        self.up_proj = nn.Linear(d, ff, bias=False)
        self.down_proj = nn.Linear(ff, d, bias=False)
        self.act_fn = nn.SiLU()

    def forward(self, x):
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    def __init__(self, d, heads, kv_heads, ff, eps):
        super().__init__()
        self.input_layernorm = nn.RMSNorm(d, eps=eps)
        self.self_attn = LlamaAttention(d, heads, kv_heads)
        self.post_attention_layernorm = nn.RMSNorm(d, eps=eps)
        self.mlp = LlamaMLP(d, ff)

    def forward(self, x, cos, sin):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaRotaryEmbedding(nn.Module):
    def __init__(self, head_dim, theta=10000.0):
        super().__init__()
        inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2).float() / head_dim)
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, positions):
        # HF writes these angles as a (head_dim/2, 1) @ (1, seq) matmul, which FlopCounterMode counts as
        # head_dim/2 · seq MACs; it is an outer product, written so here and not counted.
        freqs = positions[:, :, None].float() * self.inv_freq[None, None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos()[:, None], emb.sin()[:, None]


class LlamaModel(nn.Module):
    def __init__(self, vocab, d, layers, heads, kv_heads, ff, eps):
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab, d)
        self.layers = nn.ModuleList(LlamaDecoderLayer(d, heads, kv_heads, ff, eps) for _ in range(layers))
        self.norm = nn.RMSNorm(d, eps=eps)
        self.rotary_emb = LlamaRotaryEmbedding(d // heads)

    def forward(self, tokens):
        x = self.embed_tokens(tokens)
        cos, sin = self.rotary_emb(torch.arange(tokens.shape[1], device=tokens.device)[None])
        for layer in self.layers:
            x = layer(x, cos, sin)
        return self.norm(x)


class LlamaForCausalLM(nn.Module):
    """A Llama-family decoder as HF transformers' LlamaForCausalLM (models/llama/modeling_llama.py) builds
    it: RMSNorm pre-norm layers, grouped-query attention (q/k/v/o linears without bias, RoPE from an
    inv_freq buffer of head_dim/2), a SwiGLU MLP, an untied lm_head. Defaults: TinyLlama-1.1B's config
    (hidden 2048, 22 layers, 32 heads, 4 key/value heads, intermediate 5632, vocab 32000, eps 1e-5)."""

    def __init__(self, vocab=32000, d=2048, layers=22, heads=32, kv_heads=4, ff=5632, eps=1e-5):
        super().__init__()
        self.model = LlamaModel(vocab, d, layers, heads, kv_heads, ff, eps)
        self.lm_head = nn.Linear(d, vocab, bias=False)

    def forward(self, tokens):
        return self.lm_head(self.model(tokens))


def on_meta(build):
    """Large models are measured on the meta device: shapes and counts without memory or arithmetic."""
    with torch.device("meta"):
        return build()


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
        "swin_t": (tv.swin_t(), [3, 224, 224]),
        "convnext_tiny": (tv.convnext_tiny(), [3, 224, 224]),
        "bert_base": (on_meta(BertModel), [512]),
        "tinyllama_1_1b": (on_meta(LlamaForCausalLM), [2048]),
    }


TOKENS = {
    "gpt2": 50257,
    "lstm_lm": 33278,
    "bert_base": 30522,
    "tinyllama_1_1b": 32000,
}  # models whose input is token ids (vocabulary size)


def measure(model: nn.Module, shape, vocab=None):
    model.eval()
    calls: dict[str, list] = {}

    def hook(name):
        def record(module, args, out):
            if isinstance(out, tuple):  # an LSTM's (output, (h, c)): the output is what flows on
                out = out[0]
            if isinstance(out, torch.Tensor):
                calls.setdefault(name, []).append(list(out.shape[1:]))

        return record

    handles = [m.register_forward_hook(hook(name)) for name, m in model.named_modules() if name]
    counter = FlopCounterMode(display=False)
    device = next(model.parameters()).device
    x = torch.randint(0, vocab, (1, *shape), device=device) if vocab else torch.randn(1, *shape, device=device)
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
