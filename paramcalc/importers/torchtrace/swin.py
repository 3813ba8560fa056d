"""torchvision's Swin functions, which it wraps so that fx does not trace into them: written out as the
layers they compute (tests/fixtures/torch_import.json checks them against torch)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import Unsupported

if TYPE_CHECKING:
    from .fx import FxSpec


def swin(spec: FxSpec, node, name: str) -> None:
    """torchvision's Swin functions, which it wraps so that fx does not trace into them: written out as
    the layers they compute (tests/fixtures/torch_import.json checks them against torch)."""
    import inspect

    bound = inspect.signature(node.target).bind(*node.args, **node.kwargs).arguments

    def add(kind, base, sources, **fields):
        return spec.add(None, f"{prefix}.{base}", kind, fields, sources)

    if name == "_get_relative_position_bias":
        table, index = bound["relative_position_bias_table"], bound["relative_position_index"]
        if table not in spec.pending:  # Swin V2's table is computed: its bias adds nothing to the counts
            spec.opaque.add(node)
            return None
        prefix = table.target.rpartition(".")[0]
        heads, n = spec.pending[table].shape[1], bound["window_size"][0] * bound["window_size"][1]
        y = spec.lookup(None, table, index)  # (N², heads)
        y = add("reshape", "relative_position_bias", [y], shape=[n, n, heads])
        y = add("permute", "relative_position_bias", [y], dims=[0, 3, 1, 2])
        spec.names[node] = add("unsqueeze", "relative_position_bias", [y], dim=1)  # (1, heads, N, N)
        spec.lead[node] = 0
        return None
    x = bound["input" if name == "shifted_window_attention" else "x"]
    h, w, c = spec.shape(x)
    if name == "_patch_merging_pad":  # the four 2x2 neighbours side by side: (H/2, W/2, 4C)
        if h % 2 or w % 2:
            raise Unsupported(f"'{node.name}' pads an odd size before merging patches")
        prefix = node.name
        y = add("reshape", "reshape", [spec.source(x)], shape=[h // 2, 2, w // 2, 2, c])
        y = add("permute", "permute", [y], dims=[0, 1, 3, 4, 2, 5])
        spec.names[node] = add("reshape", "reshape", [y], shape=[h // 2, w // 2, 4 * c])
        return None
    qkv_weight, proj_weight = bound["qkv_weight"], bound["proj_weight"]
    qkv_bias, proj_bias = bound.get("qkv_bias"), bound.get("proj_bias")
    logit_scale, bias = bound.get("logit_scale"), bound["relative_position_bias"]
    (wh, ww), heads = bound["window_size"], bound["num_heads"]
    prefix = qkv_weight.target.rpartition(".")[0].rpartition(".")[0]
    pad_w, pad_h = (ww - w % ww) % ww, (wh - h % wh) % wh
    y = spec.source(x)
    if pad_w or pad_h:  # pads the bottom and the right to whole windows
        y = add("permute", "pad", [y], dims=[0, 3, 1, 2])
        y = add("zeropad2d", "pad", [y], padding=[0, pad_w, 0, pad_h])
        y = add("permute", "pad", [y], dims=[0, 2, 3, 1])
    ph, pw = h + pad_h, w + pad_w
    n, windows = wh * ww, (ph // wh) * (pw // ww)
    y = add("reshape", "windows", [y], shape=[ph // wh, wh, pw // ww, ww, c])
    y = add("permute", "windows", [y], dims=[0, 1, 3, 2, 4, 5])
    y = add("reshape", "windows", [y], shape=[windows, n, c])  # (windows, N, C); a shift (torch.roll) counts nothing
    out = spec.pending[qkv_weight].shape[0]
    spec.fold(qkv_weight, qkv_bias)
    y = add("linear", "qkv", [y], out=out, **({} if qkv_bias is not None else {"bias": False}))
    y = add("reshape", "qkv", [y], shape=[windows, n, 3, heads, c // heads])
    qkv = add("permute", "qkv", [y], dims=[0, 3, 1, 4, 2, 5])  # (3, windows, heads, N, d)
    q = add("select", "q", [qkv], dim=1, index=0)
    k = add("select", "k", [qkv], dim=1, index=1)
    k = add("transpose", "k", [k], dim0=-2, dim1=-1)
    y = add("matmul", "scores", [q, k])  # (windows, heads, N, N)
    if logit_scale is not None:  # Swin V2's cosine attention: a learned scale per head
        scale = add("unsqueeze", "logit_scale", [spec.source(logit_scale)], dim=1)
        y = add("mul", "scores", [y, scale])
    if spec.holds(bias):
        y = add("add", "scores", [y, spec.source(bias)])
    y = add("softmax", "attention", [y], dim=-1)
    v = add("select", "v", [qkv], dim=1, index=2)
    y = add("matmul", "attention", [y, v])  # (windows, heads, N, d)
    y = add("transpose", "attention", [y], dim0=2, dim1=3)
    y = add("reshape", "attention", [y], shape=[windows, n, c])
    spec.fold(proj_weight, proj_bias)
    y = add("linear", "proj", [y], out=c, **({} if proj_bias is not None else {"bias": False}))
    y = add("reshape", "windows_back", [y], shape=[ph // wh, pw // ww, wh, ww, c])
    y = add("permute", "windows_back", [y], dims=[0, 1, 3, 2, 4, 5])
    y = add("reshape", "windows_back", [y], shape=[ph, pw, c])
    if pad_w or pad_h:  # crops the padding (a negative pad)
        y = add("permute", "crop", [y], dims=[0, 3, 1, 2])
        y = add("zeropad2d", "crop", [y], padding=[0, -pad_w, 0, -pad_h])
        y = add("permute", "crop", [y], dims=[0, 2, 3, 1])
    spec.names[node] = y
    return None
