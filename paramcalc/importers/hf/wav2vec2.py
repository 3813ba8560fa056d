"""wav2vec 2.0: a convolutional feature encoder over raw audio, a feature projection, a positional
convolution (weight-normalised: its weight is g·v/‖v‖, the checkpoint's parametrizations.weight.original0
and original1) and a transformer encoder; Wav2Vec2ForCTC adds a linear over the vocabulary per frame.

The input is the waveform, input_values (samples); `--seq` sets the number of samples."""

from __future__ import annotations

from ...errors import SpecError
from .common import GELU, Config, activation_entry, named_entry

# transformers' Wav2Vec2Config defaults (wav2vec2-base's values)
DEFAULT_CONVS = {"conv_dim": [512] * 7, "conv_kernel": [10, 3, 3, 3, 3, 2, 2], "conv_stride": [5, 2, 2, 2, 2, 2, 2]}
SAMPLES = 16_000  # one second of 16 kHz audio, the rate every wav2vec2 checkpoint was trained at


def _conv_layers(c: Config, seq: int) -> list:
    """The feature encoder's layers: conv (no bias by default), its norm, activation; channels first."""
    dims, kernels, strides = (c.raw.get(k) or default for k, default in DEFAULT_CONVS.items())
    if not len(dims) == len(kernels) == len(strides):
        raise SpecError(f"{c.source}: conv_dim, conv_kernel and conv_stride must have one entry per layer each")
    norm = c.raw.get("feat_extract_norm", "group")
    if norm not in ("group", "layer"):
        raise SpecError(f"{c.source}: 'feat_extract_norm' expects group or layer, found {norm!r}")
    act = c.activation("feat_extract_activation", "gelu", GELU)
    bias = c.flag("conv_bias", False)
    frames = seq
    for kernel, stride in zip(kernels, strides):
        frames = (frames - kernel) // stride + 1
    if frames < 1:
        raise SpecError(
            f"{c.source}: {seq:,} samples are too few for the feature encoder (conv_kernel {kernels}, "
            f"conv_stride {strides}): it makes no frame",
            hint="--seq sets the number of samples (16,000: one second of 16 kHz audio)",
        )
    layers = []
    for i, (out, kernel, stride) in enumerate(zip(dims, kernels, strides)):
        body = [named_entry("conv1d", "conv", out=out, kernel=kernel, stride=stride, bias=bias)]
        if norm == "layer":  # over the channels at each time step
            body += [
                {"transpose": {"dim0": 1, "dim1": 2}},
                {"layernorm": {"eps": 1e-5, "name": "layer_norm"}},
                {"transpose": {"dim0": 1, "dim1": 2}},
            ]
        elif i == 0:  # one group per channel, on the first layer only
            body.append({"groupnorm": {"groups": out, "name": "layer_norm"}})
        body.append(activation_entry(act, "activation"))
        layers.append({"name": str(i), "layers": body})
    return layers


def _encoder_layer(c: Config, stable: bool) -> dict:
    """Wav2Vec2EncoderLayer (post-norm) or, with do_stable_layer_norm, its pre-norm form."""
    d, eps = c.int("hidden_size"), c.number("layer_norm_eps", 1e-5)
    heads = c.int("num_attention_heads")
    if d % heads:
        raise SpecError(f"{c.source}: num_attention_heads ({heads}) must divide hidden_size ({d})")
    attention = {
        "name": "attention",
        "layers": [
            named_entry("linear", "q_proj", out=d),
            named_entry("linear", "k_proj", out=d, **{"from": "input"}),
            named_entry("linear", "v_proj", out=d, **{"from": "input"}),
            {"attention": {"heads": heads, "from": ["q_proj", "k_proj", "v_proj"], "name": "attention"}},
            named_entry("linear", "out_proj", out=d),
        ],
    }
    feed_forward = {
        "name": "feed_forward",
        "layers": [
            named_entry("linear", "intermediate_dense", out=c.int("intermediate_size")),
            activation_entry(c.activation("hidden_act", "gelu", GELU), "intermediate_act_fn"),
            {"dropout": {"p": c.number("activation_dropout", 0.1), "name": "intermediate_dropout"}},
            named_entry("linear", "output_dense", out=d),
            {"dropout": {"p": c.number("hidden_dropout", 0.1), "name": "output_dropout"}},
        ],
    }
    dropout = {"dropout": {"p": c.number("hidden_dropout", 0.1), "name": "dropout"}}
    if stable:
        layers = [
            {"layernorm": {"eps": eps, "name": "layer_norm"}},
            attention,
            dropout,
            {"add": {"from": "input", "name": "residual"}},
            {"layernorm": {"eps": eps, "name": "final_layer_norm"}},
            feed_forward,
            {"add": {"from": "residual"}},
        ]
    else:
        layers = [
            attention,
            dropout,
            {"add": {"from": "input"}},
            {"layernorm": {"eps": eps, "name": "layer_norm"}},
            feed_forward,
            {"add": {"from": "layer_norm"}},
            {"layernorm": {"eps": eps, "name": "final_layer_norm"}},
        ]
    return {"layers": layers}


def wav2vec2(c: Config, family: str, seq: int) -> dict:
    for key in ("add_adapter", "use_weighted_layer_sum"):
        if c.flag(key, False):
            raise SpecError(f"{c.source}: '{key}: true' is not supported")
    if c.raw.get("adapter_attn_dim") is not None:
        raise SpecError(f"{c.source}: 'adapter_attn_dim' (attention adapters) is not supported")
    d, eps = c.int("hidden_size"), c.number("layer_norm_eps", 1e-5)
    stable = c.flag("do_stable_layer_norm", False)
    kernel = c.int("num_conv_pos_embeddings", 128)
    positional = [
        {"transpose": {"dim0": 1, "dim1": 2}},
        named_entry(
            "conv1d",
            "conv",
            out=d,
            kernel=kernel,
            padding=kernel // 2,
            groups=c.int("num_conv_pos_embedding_groups", 16),
            weight_norm=2,
        ),
        # Wav2Vec2SamePadLayer: an even kernel makes one frame too many, dropped from the end
        *([{"split": {"size": "${shape(hidden_states)[0]}", "dim": 2, "index": 0}}] if kernel % 2 == 0 else []),
        activation_entry(c.activation("feat_extract_activation", "gelu", GELU), "activation"),
        {"transpose": {"dim0": 1, "dim1": 2}},
    ]
    dropout = {"dropout": {"p": c.number("hidden_dropout", 0.1), "name": "dropout"}}
    encoder = [
        {"identity": {"name": "hidden_states"}},
        {"name": "pos_conv_embed", "layers": positional},
        {"add": {"from": ["hidden_states", "pos_conv_embed"]}},
        *([] if stable else [{"layernorm": {"eps": eps, "name": "layer_norm"}}]),
        dropout,
        {"repeat": c.int("num_hidden_layers"), "name": "layers", "encoder_layer": {}},
        *([{"layernorm": {"eps": eps, "name": "layer_norm"}}] if stable else []),
    ]
    masked = c.number("mask_time_prob", 0.05) > 0 or c.number("mask_feature_prob", 0.0) > 0
    model: list[dict] = [
        {"unsqueeze": {"dim": 1}},  # input_values[:, None]: one channel
        {"name": "feature_extractor", "layers": [{"name": "conv_layers", "layers": _conv_layers(c, seq)}]},
        {"transpose": {"dim0": 1, "dim1": 2}},
        {
            "name": "feature_projection",
            "layers": [
                {"layernorm": {"eps": eps, "name": "layer_norm"}},
                named_entry("linear", "projection", out=d),
                {"dropout": {"p": c.number("feat_proj_dropout", 0.0), "name": "dropout"}},
            ],
        },
        {"name": "encoder", "layers": encoder},
    ]
    names = c.raw.get("architectures") or [None]
    ctc = names[0] == "Wav2Vec2ForCTC"
    prefix = "wav2vec2." if ctc else ""
    if masked:
        # SpecAugment's vector, written over masked time steps in training: a tensor of the model outside
        # the inference flow, declared as an output so that the spec holds it
        model.insert(0, {"parameter": {"shape": [d], "name": "masked_spec_embed"}})
    model[int(masked)]["from"] = "input_values"  # the first layer that reads (after the parameter, which does not)
    layers: list = [{"name": "wav2vec2", "layers": model}] if ctc else model
    last = f"{prefix}encoder"
    if ctc:
        layers += [
            {"dropout": {"p": c.number("final_dropout", 0.1), "name": "dropout"}},
            named_entry("linear", "lm_head", out=c.int("vocab_size")),
        ]
        last = "lm_head"
    body: dict = {"inputs": {"input_values": [seq]}, "blocks": {"encoder_layer": _encoder_layer(c, stable)}}
    if masked:
        body["outputs"] = [f"{prefix}masked_spec_embed", last]
    name = names[0]
    if name not in (None, "Wav2Vec2Model", "Wav2Vec2ForCTC"):
        shown = name if isinstance(name, str) and name.isidentifier() and name.isascii() else "a class"
        body["note"] = f"architectures names {shown}, a head paramcalc does not write: this is its base model."
    return {**body, "layers": layers, "cls": "Wav2Vec2ForCTC" if ctc else "Wav2Vec2Model"}
