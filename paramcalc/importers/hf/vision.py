"""ConvNeXt and Swin, as transformers' ConvNextForImageClassification and SwinForImageClassification build
them: feature maps per sample, (C, H, W) or channels last (H, W, C), and a classifier on the pooled features."""

from __future__ import annotations

from ...errors import SpecError
from .common import GELU, Config, activation_entry, named_entry


def _head(c: Config) -> list:
    """The classifier (nn.Identity where num_labels is 0: nothing)."""
    classes = c.labels()
    return [named_entry("linear", "classifier", out=classes)] if classes else []


# ---------------------------------------------------------------- convnext


def convnext(c: Config, family: str, seq: int) -> dict:
    stages = c.int("num_stages", 4)
    widths, depths = c.ints("hidden_sizes", [96, 192, 384, 768], stages), c.ints("depths", [3, 3, 9, 3], stages)
    size, patch, channels = c.int("image_size", 224), c.int("patch_size", 4), c.int("num_channels", 3)
    scale = c.number("layer_scale_init_value", 1e-6)
    act = c.activation("hidden_act", "gelu", GELU)
    # ConvNextLayer: depthwise 7x7 conv on (C, H, W), then channels last for its LayerNorm and pointwise linears,
    # scaled per channel by layer_scale_parameter (where layer_scale_init_value > 0), and back
    layer = {
        "args": {"dim": None},
        "layers": [
            named_entry("conv2d", "dwconv", out="$dim", kernel=7, padding=3, groups="$dim"),
            {"permute": {"dims": [0, 2, 3, 1]}},
            {"layernorm": {"eps": 1e-6, "name": "layernorm"}},
            named_entry("linear", "pwconv1", out="${4 * dim}"),
            activation_entry(act, "act"),
            named_entry("linear", "pwconv2", out="$dim"),
            *(
                [
                    {"parameter": {"shape": [1, 1, "$dim"], "name": "layer_scale_parameter"}},
                    {"mul": {"from": ["layer_scale_parameter", "pwconv2"]}},
                ]
                if scale > 0
                else []
            ),
            {"permute": {"dims": [0, 3, 1, 2]}},
            {"add": {"from": "input"}},
        ],
    }
    if size // patch < 2 ** (stages - 1):
        raise SpecError(
            f"{c.source}: an image_size of {size} in patches of {patch} is too small for {stages} stages "
            f"(each after the first halves it)"
        )
    stage_groups = []
    for i, (width, depth) in enumerate(zip(widths, depths)):
        # a stage downsamples (LayerNorm over the channels, a 2x2 stride-2 conv) unless it is the first
        down = (
            [
                {
                    "name": "downsampling_layer",
                    "layers": [
                        {"layernorm2d": {"eps": 1e-6, "name": "0"}},
                        named_entry("conv2d", "1", out=width, kernel=2, stride=2),
                    ],
                }
            ]
            if i > 0
            else []
        )
        stage_groups.append(
            {"name": str(i), "layers": [*down, {"repeat": depth, "name": "layers", "convnext_layer": {"dim": width}}]}
        )
    return {
        "input": [channels, size, size],
        "blocks": {"convnext_layer": layer},
        "layers": [
            {
                "name": "convnext",
                "layers": [
                    {
                        "name": "embeddings",
                        "layers": [
                            named_entry("conv2d", "patch_embeddings", out=widths[0], kernel=patch, stride=patch),
                            {"layernorm2d": {"eps": 1e-6, "name": "layernorm"}},
                        ],
                    },
                    {"name": "encoder", "layers": [{"name": "stages", "layers": stage_groups}]},
                    {"mean": {"dim": [2, 3]}},  # the pooled features: mean over H and W
                    {"layernorm": {"eps": c.number("layer_norm_eps", 1e-12), "name": "layernorm"}},
                ],
            },
            *_head(c),
        ],
    }
