"""CLIP: CLIPTextModel and CLIPVisionModel (model types clip_text_model and clip_vision_model), and CLIPModel
(clip), both towers side by side with their projections and logit_scale, as transformers builds them."""

from __future__ import annotations

from ...errors import SpecError, describe
from .common import GELU, Config, activation_entry, named_entry, projected_attention


def _activation(c: Config) -> dict:
    """hidden_act as entries named activation_fn: quick_gelu (CLIP's) is x · sigmoid(1.702 · x)."""
    if c.raw.get("hidden_act", "quick_gelu") in (None, "quick_gelu"):
        return {
            "name": "activation_fn",
            "layers": [
                {"scale": {"by": 1.702}},
                {"sigmoid": {"name": "gate"}},
                {"mul": {"from": ["input", "gate"]}},
            ],
        }
    return activation_entry(c.activation("hidden_act", "quick_gelu", GELU), "activation_fn")


def _layer(c: Config, causal: bool) -> dict:
    """CLIPEncoderLayer: pre-norm self-attention (causal in the text tower) and MLP, each residual."""
    d, heads, eps = c.int("hidden_size"), c.int("num_attention_heads"), c.number("layer_norm_eps", 1e-5)
    if d % heads:
        raise SpecError(f"{c.source}: num_attention_heads ({heads}) must divide hidden_size ({d})")
    return {
        "layers": [
            {"layernorm": {"eps": eps, "name": "layer_norm1"}},
            projected_attention("self_attn", d, heads, causal, "input"),
            {"add": {"from": "input", "name": "residual"}},
            {"layernorm": {"eps": eps, "name": "layer_norm2"}},
            {
                "name": "mlp",
                "layers": [
                    named_entry("linear", "fc1", out=c.int("intermediate_size")),
                    _activation(c),
                    named_entry("linear", "fc2", out=d),
                ],
            },
            {"add": {"from": "residual"}},
        ]
    }


def _text(c: Config, block: str) -> list:
    """CLIPTextModel's layers, reading input_ids and position_ids: its pooled output is the end-of-text token's
    final state (which position that is changes no count)."""
    d, positions = c.int("hidden_size"), c.int("max_position_embeddings", 77)
    return [
        {
            "name": "embeddings",
            "from": "input_ids",
            "layers": [
                # the default position ids, a buffer of 1 × max_position_embeddings (in a group of its own, so
                # that the embedding below reads the network's input of that name)
                {"name": "ids", "layers": [{"buffer": {"shape": [1, positions], "name": "position_ids"}}]},
                named_entry("embedding", "token_embedding", num=c.int("vocab_size"), dim=d, **{"from": "input_ids"}),
                named_entry("embedding", "position_embedding", num=positions, dim=d, **{"from": "position_ids"}),
                {"add": {"from": ["token_embedding", "position_embedding"]}},
            ],
        },
        {"name": "encoder", "layers": [{"repeat": c.int("num_hidden_layers"), "name": "layers", block: {}}]},
        {"layernorm": {"eps": c.number("layer_norm_eps", 1e-5), "name": "final_layer_norm"}},
        {"select": {"dim": 1, "index": -1}},
    ]


def _vision(c: Config, block: str) -> list:
    """CLIPVisionModel's layers, reading pixel_values: its pooled output is the class token's state, normed."""
    d, eps = c.int("hidden_size"), c.number("layer_norm_eps", 1e-5)
    size, patch = c.int("image_size", 224), c.int("patch_size", 32)
    if size % patch:
        raise SpecError(f"{c.source}: patch_size ({patch}) must divide image_size ({size})")
    tokens = (size // patch) ** 2 + 1
    return [
        {
            "name": "embeddings",
            "from": "pixel_values",
            "layers": [
                named_entry("conv2d", "patch_embedding", out=d, kernel=patch, stride=patch, bias=False),
                {"flatten": {"start_dim": 2}},
                {"transpose": {"dim0": 1, "dim1": 2, "name": "patches"}},
                {"parameter": {"shape": [1, d], "name": "class_embedding"}},  # (hidden_size) in the model
                {"concat": {"from": ["class_embedding", "patches"], "dim": 1, "name": "tokens"}},
                # the position ids, a buffer of 1 × (patches + 1), each position's embedding added
                {"buffer": {"shape": [tokens], "name": "position_ids"}},
                named_entry("embedding", "position_embedding", num=tokens, dim=d, **{"from": "position_ids"}),
                {"add": {"from": ["tokens", "position_embedding"]}},
            ],
        },
        {"layernorm": {"eps": eps, "name": "pre_layrnorm"}},
        {"name": "encoder", "layers": [{"repeat": c.int("num_hidden_layers"), "name": "layers", block: {}}]},
        {"select": {"dim": 1, "index": 0}},
        {"layernorm": {"eps": eps, "name": "post_layernorm"}},
    ]


def _text_inputs(c: Config, seq: int) -> dict:
    positions = c.int("max_position_embeddings", 77)
    if seq > positions:
        raise SpecError(f"{c.source}: --seq {seq:,} is more than the text tower's {positions} positions")
    return {"input_ids": [seq], "position_ids": [seq]}


def clip_text_model(c: Config, family: str, seq: int) -> dict:
    return {
        "inputs": _text_inputs(c, seq),
        "blocks": {"clip_layer": _layer(c, causal=True)},
        # named as the checkpoint's state_dict (transformers 5 drops the prefix on loading)
        "layers": [{"name": "text_model", "from": "input_ids", "layers": _text(c, "clip_layer")}],
    }


def clip_vision_model(c: Config, family: str, seq: int) -> dict:
    size, channels = c.int("image_size", 224), c.int("num_channels", 3)
    return {
        "inputs": {"pixel_values": [channels, size, size]},
        "blocks": {"clip_layer": _layer(c, causal=False)},
        "layers": [{"name": "vision_model", "from": "pixel_values", "layers": _vision(c, "clip_layer")}],
    }


def tower(c: Config, key: str) -> Config:
    """The text_config or vision_config of a CLIPModel config, read as a config of its own."""
    value = c.raw.get(key)
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise SpecError(f"{c.source}: '{key}' expects a mapping, found {describe(value)}")
    return Config(value, f"{c.source} ({key})")


def clip(c: Config, family: str, seq: int) -> dict:
    """CLIPModel: the text tower (input_ids) and the vision tower (pixel_values), each pooled output projected to
    projection_dim (no bias), and their cosine similarity scaled by exp(logit_scale). CLIPModel compares every
    image with every text of the batch (a batch × batch matrix); per sample, as paramcalc counts, the spec
    compares each image with the text beside it: exact at batch 1, and projection_dim MACs per sample for what
    is batch · projection_dim per sample in the model."""
    text, vision = tower(c, "text_config"), tower(c, "vision_config")
    projection, size = c.int("projection_dim", 512), vision.int("image_size", 224)
    return {
        "inputs": {**_text_inputs(text, seq), "pixel_values": [vision.int("num_channels", 3), size, size]},
        "blocks": {"text_layer": _layer(text, causal=True), "vision_layer": _layer(vision, causal=False)},
        "layers": [
            {"name": "text_model", "from": "input_ids", "layers": _text(text, "text_layer")},
            {"name": "vision_model", "from": "pixel_values", "layers": _vision(vision, "vision_layer")},
            named_entry("linear", "visual_projection", out=projection, bias=False, **{"from": "vision_model"}),
            {"unsqueeze": {"dim": 1, "name": "image_embeds"}},  # (1, projection_dim)
            named_entry("linear", "text_projection", out=projection, bias=False, **{"from": "text_model"}),
            {"unsqueeze": {"dim": 2, "name": "text_embeds"}},  # (projection_dim, 1)
            {"matmul": {"from": ["image_embeds", "text_embeds"], "name": "similarity"}},
            {"parameter": {"shape": [1, 1], "name": "logit_scale"}},  # a 0-dim tensor in the model
            {"mul": {"from": ["similarity", "logit_scale"]}},
            {"flatten": {"name": "logits_per_image"}},
        ],
    }
