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


# ---------------------------------------------------------------- swin


def _swin_layer(c: Config, eps: float) -> dict:
    """SwinLayer on (side², dim), named as the checkpoint's state_dict (transformers 5 renames these on loading):
    pre-norm window attention and MLP, each residual. The map is cut into window × window windows, (windows,
    window², dim), for the attention (query, key, value, the attention operation, output.dense), and put back.
    The relative position bias, a table of (2·window − 1)² × heads parameters looked up by an index buffer of
    window⁴ entries and added to the logits, is the attention operation's relative_buckets (the operation named
    as the table). Every other layer shifts the windows: a roll and a mask made in forward, which change no
    count."""
    bias = c.flag("qkv_bias", True)
    act = c.activation("hidden_act", "gelu", GELU)
    return {
        "args": {"dim": None, "heads": None, "side": None, "window": None, "ff": None},
        "layers": [
            {"layernorm": {"eps": eps, "name": "layernorm_before"}},
            {"reshape": {"shape": ["${side // window}", "$window", "${side // window}", "$window", "$dim"]}},
            {"permute": {"dims": [0, 1, 3, 2, 4, 5]}},
            {"reshape": {"shape": [-1, "${window * window}", "$dim"], "name": "windows"}},
            {
                "name": "attention",
                "layers": [
                    {
                        "name": "self",
                        "layers": [
                            named_entry("linear", "query", out="$dim", bias=bias, **{"from": "windows"}),
                            named_entry("linear", "key", out="$dim", bias=bias, **{"from": "windows"}),
                            named_entry("linear", "value", out="$dim", bias=bias, **{"from": "windows"}),
                            {"buffer": {"shape": ["${window ** 4}"], "name": "relative_position_index"}},
                            {
                                "attention": {
                                    "heads": "$heads",
                                    "relative_buckets": "${(2 * window - 1) ** 2}",
                                    "from": ["query", "key", "value"],
                                    "name": "relative_position_bias_table",
                                }
                            },
                        ],
                    },
                    {"name": "output", "layers": [named_entry("linear", "dense", out="$dim")]},
                ],
            },
            {"reshape": {"shape": ["${side // window}", "${side // window}", "$window", "$window", "$dim"]}},
            {"permute": {"dims": [0, 1, 3, 2, 4, 5]}},
            {"reshape": {"shape": ["${side * side}", "$dim"]}},
            {"add": {"from": "input", "name": "residual"}},
            {"layernorm": {"eps": eps, "name": "layernorm_after"}},
            {
                "name": "intermediate",
                "layers": [named_entry("linear", "dense", out="$ff"), activation_entry(act, "act")],
            },
            {"name": "output", "layers": [named_entry("linear", "dense", out="$dim")]},
            {"add": {"from": "residual"}},
        ],
    }


def _patch_merging(side: int, dim: int) -> dict:
    """SwinPatchMerging: each 2 × 2 neighbourhood's features side by side, (side²/4, 4·dim), norm, then 2·dim."""
    half = side // 2
    return {
        "name": "downsample",
        "layers": [
            {"reshape": {"shape": [half, 2, half, 2, dim]}},
            {"permute": {"dims": [0, 1, 3, 4, 2, 5]}},
            {"reshape": {"shape": [half * half, 4 * dim]}},
            {"layernorm": {"name": "norm"}},
            named_entry("linear", "reduction", out=2 * dim, bias=False),
        ],
    }


def swin(c: Config, family: str, seq: int) -> dict:
    depths = c.ints("depths", [2, 2, 6, 2])
    heads = c.ints("num_heads", [3, 6, 12, 24], len(depths))
    size, patch, channels = c.int("image_size", 224), c.int("patch_size", 4), c.int("num_channels", 3)
    dim, window, eps = c.int("embed_dim", 96), c.int("window_size", 7), c.number("layer_norm_eps", 1e-5)
    ratio = c.number("mlp_ratio", 4.0)
    side = size // patch
    if size % patch:
        raise SpecError(f"{c.source}: patch_size ({patch}) must divide image_size ({size}) (padding is not supported)")
    stages = []
    for i, (depth, n) in enumerate(zip(depths, heads)):
        width = dim * 2**i
        if width % n:
            raise SpecError(f"{c.source}: num_heads[{i}] ({n}) must divide the stage's width ({width})")
        # a map no larger than the window is one window (transformers shrinks the window to it): the relative
        # position bias then fits only if it is exactly the window
        if side < window or side % window:
            raise SpecError(
                f"{c.source}: stage {i}'s map of {side}×{side} is not a whole number of {window}×{window} windows "
                "(padded or shrunk windows are not supported)"
            )
        ff = int(ratio * width)
        if not 0 < ff <= 2**22:
            raise SpecError(f"{c.source}: 'mlp_ratio' {ratio} makes a feed-forward width of {ff:,}")
        layer = {"dim": width, "heads": n, "side": side, "window": window, "ff": ff}
        last = i == len(depths) - 1
        if not last and side % 2:
            raise SpecError(
                f"{c.source}: stage {i}'s map of {side}×{side} cannot be merged 2×2 (padding is not supported)"
            )
        stages.append(
            {
                "name": str(i),
                "layers": [
                    {"repeat": depth, "name": "blocks", "swin_layer": layer},
                    *([] if last else [_patch_merging(side, width)]),
                ],
            }
        )
        side //= 1 if last else 2
    absolute = c.flag("use_absolute_embeddings", False)
    width = dim * 2 ** (len(depths) - 1)
    return {
        "input": [channels, size, size],
        "blocks": {"swin_layer": _swin_layer(c, eps)},
        "layers": [
            {
                "name": "swin",
                "layers": [
                    {
                        "name": "embeddings",
                        "layers": [
                            {
                                "name": "patch_embeddings",
                                "layers": [named_entry("conv2d", "projection", out=dim, kernel=patch, stride=patch)],
                            },
                            {"flatten": {"start_dim": 2}},
                            {"transpose": {"dim0": 1, "dim1": 2}},
                            {"layernorm": {"name": "norm"}},
                            *(
                                [
                                    {
                                        "parameter": {
                                            "shape": [(size // patch) ** 2, dim],
                                            "name": "position_embeddings",
                                        }
                                    },
                                    {"add": {"from": ["norm", "position_embeddings"]}},
                                ]
                                if absolute
                                else []
                            ),
                        ],
                    },
                    {"name": "encoder", "layers": [{"name": "layers", "layers": stages}]},
                    {"layernorm": {"eps": eps, "name": "layernorm"}},
                    {"transpose": {"dim0": 1, "dim1": 2}},
                    {"adaptiveavgpool1d": {"out": 1, "name": "pooler"}},
                    {"flatten": {}},
                ],
            },
            *_head(c),
        ],
    }
