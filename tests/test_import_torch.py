"""`paramcalc import torch`: the cases that once exited 0 with a wrong spec, each with a small model
built here (torch only). Each import is either exact against the model (params and buffers counted by
torch, MACs by FlopCounterMode, the output shape from a real forward) or refused with a message that
names the construct; never a wrong spec."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers import run_cli

from paramcalc import SpecError, analyze, parse_spec

ROOT = Path(__file__).parent.parent
torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional


def _import(model, shape):
    """(report of the imported spec, how it was traced)."""
    import yaml

    from paramcalc.importers.torch import spec_from_model

    doc, how = spec_from_model(model.eval(), [shape])
    return analyze(parse_spec(yaml.safe_dump(doc, sort_keys=False), "model")), how


def _measured(model, shape):
    """torch's figures; attention on its math kernel, whose two products FlopCounterMode counts (the
    fused CPU kernel is counted as nothing)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter, sdpa_kernel(SDPBackend.MATH):
        out = model.eval()(torch.randn(1, *shape))
    if isinstance(out, dict):
        out = next(iter(out.values()))
    return {
        "params": sum(p.numel() for p in model.parameters()),
        "buffers": sum(b.numel() for b in model.buffers()),
        "macs": counter.get_total_flops() // 2,
        "output_shape": list(out.shape[1:]),
    }


def _assert_exact(model, shape):
    report, how = _import(model, shape)
    found = {
        "params": report.totals.params,
        "buffers": report.totals.buffers,
        "macs": report.totals.macs,
        "output_shape": report.output_shape,
    }
    assert found == _measured(model, shape)
    return report, how


def _refused(model, shape) -> str:
    with pytest.raises(SpecError) as refused:
        _import(model, shape)
    return str(refused.value)


class BatchNormAct(nn.BatchNorm2d):
    """timm's BatchNormAct2d: a BatchNorm2d whose forward calls F.batch_norm, then child modules."""

    def __init__(self, c):
        super().__init__(c)
        self.drop = nn.Identity()
        self.act = nn.ReLU()

    def forward(self, x):
        x = F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.1, self.eps)
        return self.act(self.drop(x))


class Branching(nn.Module):
    """Control flow on a tensor's value: torch.fx cannot trace it, so module hooks record the calls."""

    def __init__(self, *modules):
        super().__init__()
        self.body = nn.Sequential(*modules)

    def forward(self, x):
        if x.sum() > 1e9:
            x = x * 2
        return self.body(x)


def test_a_module_with_tensors_and_children_is_never_dropped():
    model = Branching(nn.Conv2d(3, 8, 3), BatchNormAct(8))
    message = _refused(model, (3, 16, 16))
    assert "BatchNormAct ('body.1')" in message  # its tensors are no child's: it needs a kind
    assert "torch.fx cannot trace it" in message  # and why fx did not trace it, kept


def test_an_operation_hooks_cannot_see_is_refused_not_dropped():
    class Segmenter(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 5, 3, stride=4, padding=1)

        def forward(self, x):
            if x.sum() > 1e9:
                x = x * 2
            return F.interpolate(self.conv(x), size=x.shape[-2:], mode="bilinear", align_corners=False)

    message = _refused(Segmenter(), (3, 32, 32))
    assert "output 'conv' is [5, 8, 8] in the spec, [5, 32, 32] from the model" in message


def test_interpolate_on_the_fx_path_is_an_upsample():
    class Segmenter(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 5, 3, stride=4, padding=1)

        def forward(self, x):
            out = F.interpolate(self.conv(x), size=x.shape[-2:], mode="bilinear", align_corners=False)
            return {"out": out}  # as torchvision's segmentation models return

    report, how = _assert_exact(Segmenter(), (3, 32, 32))
    assert how == "fx" and report.layers[-1].kind == "upsample"


def test_expand_over_a_feature_dim_is_not_a_no_op():
    class Expanding(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(16, 16)
            self.b = nn.Linear(16, 16)

        def forward(self, x):  # (1, 16) -> (4, 16): the second linear does 4x the work
            return self.b(self.a(x).expand(-1, 4, -1))

    message = _refused(Expanding(), (1, 16))
    assert "expand" in message and "[1, 16] to [4, 16]" in message


def test_a_class_named_like_a_kind_is_not_that_kind():
    class Conv1D(nn.Module):  # transformers' GPT-2 projection: a linear layer with a transposed weight
        def __init__(self, nf, nx):
            super().__init__()
            self.weight = nn.Parameter(torch.randn(nx, nf))
            self.bias = nn.Parameter(torch.zeros(nf))

        def forward(self, x):
            size = x.size()[:-1] + (self.weight.shape[1],)
            return torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight).view(size)

    class Scale(nn.Module):  # timm's Scale: a learned per-channel factor
        def __init__(self, dim):
            super().__init__()
            self.gamma = nn.Parameter(torch.ones(dim))

        def forward(self, x):
            return x * self.gamma

    report, _ = _assert_exact(nn.Sequential(nn.Linear(8, 8), Scale(8)), (4, 8))
    assert "scale" not in {r.kind for r in report.layers}
    report, how = _assert_exact(nn.Sequential(Conv1D(6, 8)), (4, 8))  # fx meets addmm; torch.export reads it
    assert how.startswith("export") and [(r.name, r.kind) for r in report.layers if r.params] == [("0", "linear")]


def test_a_window_partition_that_folds_the_batch_keeps_every_element():
    class Windows(nn.Module):
        """Swin-style: (C, H, W) -> 4 windows of 4x4 folded into the batch, a linear, and back."""

        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(6, 6)

        def forward(self, x):
            b, c, h, w = x.shape
            x = x.permute(0, 2, 3, 1).reshape(b, h // 4, 4, w // 4, 4, c).permute(0, 1, 3, 2, 4, 5)
            windows = self.proj(x.reshape(-1, 4, 4, c))  # (b * 4, 4, 4, c)
            x = windows.view(b, h // 4, w // 4, 4, 4, c).permute(0, 1, 3, 2, 4, 5)
            return x.reshape(b, h, w, c)

    report, how = _assert_exact(Windows(), (6, 8, 8))
    assert how == "fx"
    assert [r.output_shape for r in report.layers if r.name == "proj"] == [[4, 4, 4, 6]]


def test_an_empty_sequential_passes_its_input_through():
    model = Branching(nn.Linear(4, 8), nn.Sequential(), nn.ReLU())
    report, how = _assert_exact(model, (4,))
    assert how.startswith("hooks") and "identity" in {r.kind for r in report.layers}


def test_a_norm_called_twice_is_refused_not_tied():
    """A module with tensors but no weight a `tie:` can share (a norm) cannot be written twice."""

    class TwiceNormed(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm = nn.LayerNorm(8)
            self.fc = nn.Linear(8, 8)

        def forward(self, x):
            return self.norm(self.fc(self.norm(x)))

    message = _refused(TwiceNormed(), (8,))
    assert "'norm' (LayerNorm) is called again" in message and "tie" in message


def test_a_module_without_tensors_called_twice_is_two_layers():
    class TwiceActivated(nn.Module):
        def __init__(self):
            super().__init__()
            self.act = nn.GELU()
            self.fc = nn.Linear(8, 8)

        def forward(self, x):
            return self.act(self.fc(self.act(x)))

    report, _ = _assert_exact(TwiceActivated(), (8,))
    assert [r.kind for r in report.layers] == ["gelu", "linear", "gelu"]


def test_the_guard_names_every_difference():
    from paramcalc.importers.torchtrace.guard import differences

    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8))
    doc = {"name": "m", "input": [4], "layers": [{"linear": {"out": 8, "name": "0"}}]}
    assert differences(doc, model, [[8]]) == [
        "params 40 in the spec, 56 in the model",
        "buffers 0 in the spec, 17 in the model",
    ]
    assert differences(doc, model, [[9]])[-1] == "output '0' is [8] in the spec, [9] from the model"


def test_a_refused_import_is_exit_2_with_one_line(tmp_path, monkeypatch):
    (tmp_path / "bn_act.py").write_text(
        "import torch\nfrom torch import nn\n\n\n"
        "class M(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.a = nn.Linear(4, 4)\n\n"
        "    def forward(self, x):\n"
        "        return self.a(x).expand(-1, 3, -1)\n\n\n"
        "def build():\n    return M()\n"
    )
    monkeypatch.chdir(tmp_path)  # the CLI runs there; it must still import this checkout's paramcalc
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    out = run_cli("import", "torch", "bn_act.py:build", "-i", "1x4")
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith("error: cannot import: ") and out.stderr.count("\n") == 1
    assert "Traceback" not in out.stderr


class Attention(nn.Module):
    """timm's ViT attention: qkv permuted (2, 0, 3, 1, 4), which moves the batch, then unbound; rotary's
    rotate_half (slices and a cat); a relative position bias read from a table at an index buffer."""

    def __init__(self, dim=16, heads=2, tokens=9):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.table = nn.Parameter(torch.zeros(5, heads))
        self.register_buffer("index", torch.arange(tokens * tokens) % 5)

    def forward(self, x, attn_mask=None):
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        half = q.shape[-1] // 2
        q = q + torch.cat([-q[..., half:], q[..., :half]], dim=-1)
        bias = self.table[self.index].view(n, n, -1).permute(2, 0, 1).unsqueeze(0)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        return self.proj(y.transpose(1, 2).reshape(b, n, c))


class Stem(nn.Module):
    """timm's way: F.pad ('same' padding), a BatchNormAct, a layer scale, a patch embedding."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, stride=2)
        self.bn = BatchNormAct(16)
        self.gamma = nn.Parameter(torch.ones(16, 1, 1))
        self.patch = nn.Conv2d(16, 16, 2, stride=2)
        self.attn = Attention()
        self.norm = nn.LayerNorm(16)

    def forward(self, x):
        x = self.gamma * self.bn(self.conv(F.pad(x, [0, 1, 0, 1])))
        x = self.patch(x).flatten(2).transpose(1, 2)  # (9, 16)
        return self.norm(x + self.attn(x)).mean(1)


def test_torch_export_keeps_the_work_between_modules():
    """fx stops at F.pad (and F.batch_norm); torch.export reads the ATen operations, each one a layer."""
    report, how = _assert_exact(Stem(), (3, 13, 13))
    assert how.startswith("export (operation 'pad'")  # F.pad, then F.batch_norm
    kinds = {r.name: r.kind for r in report.layers}
    assert (kinds["conv"], kinds["bn"], kinds["attn.qkv"], kinds["attn.table"]) == (
        "conv2d",
        "batchnorm2d",
        "linear",
        "embedding",
    )
    assert sum(r.kind == "matmul" for r in report.layers) == 2  # attention's two products


# ---------------------------------------------------------------- what people run (recorded)

FAMILIES = ROOT / "tests" / "fixtures" / "torch_import_families.json"
FAMILY_SPECS = ROOT / "tests" / "fixtures" / "imported_torch"
RECORDED = json.loads(FAMILIES.read_text())["models"] if FAMILIES.exists() else {}


@pytest.mark.parametrize("name", RECORDED)
def test_each_recorded_import_is_exact_or_names_what_it_refused(name):
    """As tests/generate_torch_import_fixture.py recorded it (torchvision, timm and transformers in their
    own venv): the import was exact against the model, or refused naming the construct; never wrong."""
    record = RECORDED[name]
    assert record["status"] in ("exact", "refused")
    if record["status"] == "exact":
        assert record["paramcalc"] == record["torch"]
    else:
        assert record["construct"] and "paramcalc" not in record


@pytest.mark.parametrize("name", sorted(p.stem for p in FAMILY_SPECS.glob("*.yaml")))
def test_imported_family_specs_match_the_models(name):
    """The committed spec of each exact import, analysed by today's code, equals what torch measured for
    the model: params, buffers, MACs (FlopCounterMode) and output shape."""
    report = analyze(str(FAMILY_SPECS / f"{name}.yaml"))
    torch_says = RECORDED[name]["torch"]
    assert report.totals.params == torch_says["params"]
    assert report.totals.buffers == torch_says["buffers"]
    assert report.totals.macs == torch_says["macs"]
    assert report.output_shape == torch_says["output_shape"]


def test_the_readme_tables_are_the_recorded_ones():
    from torch_import_table import table

    assert table(json.loads(FAMILIES.read_text())) in (ROOT / "README.md").read_text()


class Decoder(nn.Module):
    """A transformers-style decoder: positions from arange read from a table, rotary tables computed
    from an inv_freq buffer and the positions, keys and values repeated for grouped-query attention
    (x[:, :, None].expand().reshape()), and an LM head tied to the token embedding."""

    def __init__(self, vocab=50, dim=16, heads=4, kv_heads=2, positions=32):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, dim // heads
        self.tokens = nn.Embedding(vocab, dim)
        self.positions = nn.Embedding(positions, dim)
        self.q = nn.Linear(dim, dim, bias=False)
        self.kv = nn.Linear(dim, 2 * kv_heads * self.head_dim, bias=False)
        self.o = nn.Linear(dim, dim, bias=False)
        self.head = nn.Linear(dim, vocab, bias=False)
        self.head.weight = self.tokens.weight
        self.register_buffer("inv_freq", 1.0 / 10000 ** (torch.arange(0, self.head_dim, 2) / self.head_dim))

    def _repeat(self, x):
        b, h, n, d = x.shape
        return x[:, :, None].expand(b, h, self.heads // h, n, d).reshape(b, self.heads, n, d)

    def forward(self, ids):
        b, n = ids.shape
        positions = torch.arange(n).unsqueeze(0)
        x = self.tokens(ids) + self.positions(positions)
        angles = positions[..., None].float() * self.inv_freq
        cos = torch.cat([angles, angles], dim=-1).cos()[:, None]
        q = self.q(x).view(b, n, self.heads, -1).transpose(1, 2) * cos
        k, v = self.kv(x).view(b, n, 2, self.kv_heads, -1).unbind(2)
        k, v = self._repeat(k.transpose(1, 2) * cos), self._repeat(v.transpose(1, 2))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.head(x + self.o(y.transpose(1, 2).reshape(b, n, -1)))


def test_a_decoder_with_computed_positions_tied_head_and_grouped_kv_is_exact():
    import yaml
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    from paramcalc.importers.torch import spec_from_model

    model = Decoder().eval()
    doc, how = spec_from_model(model, [(12,)], 50)
    report = analyze(parse_spec(yaml.safe_dump(doc, sort_keys=False), "model"))
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter, sdpa_kernel(SDPBackend.MATH):
        out = model(torch.randint(0, 50, (1, 12)))
    assert how.startswith("export")
    assert report.totals.params == sum(p.numel() for p in model.parameters())  # the tied head counted once
    assert report.totals.buffers == 2
    assert report.totals.macs == counter.get_total_flops() // 2
    assert report.output_shape == list(out.shape[1:]) == [12, 50]
    kinds = {r.name: r.kind for r in report.layers}
    assert kinds["positions"] == "split" and kinds["positions.weight"] == "parameter"  # rows 0..11 of its table
    assert kinds["head"] == "linear" and sum(r.kind == "concat" for r in report.layers) >= 2  # kv repeated


class TimmBits(nn.Module):
    """timm's ways on the torch.export path: a pad by zero (Swin's padding to whole windows), Res2Net's
    last piece taken as [-1], ResMLP's Affine (torch.addcmul), ConvNeXt V2's global response norm (a
    vector norm kept as a dim of size 1) and F.normalize."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.alpha = nn.Parameter(torch.ones(8, 1, 1))
        self.beta = nn.Parameter(torch.zeros(8, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, 8, 1, 1))
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        x = self.conv(F.pad(x, [0, 0, 0, 0]))
        x = torch.addcmul(self.beta, self.alpha, x)
        g = torch.linalg.vector_norm(x, dim=(2, 3), keepdim=True)
        x = x + self.gamma * (x * (g / (g.mean(dim=1, keepdim=True) + 1e-6)))
        last = x.split(4, dim=1)[-1]  # (4, 6, 6)
        return self.fc(F.normalize(last.flatten(2).transpose(1, 2)[..., :4], dim=-1))


def test_timm_constructs_on_the_export_path_are_exact():
    report, how = _assert_exact(TimmBits(), (3, 8, 8))
    assert how.startswith("export")
    assert any(r.kind == "split" and r.output_shape == [4, 6, 6] for r in report.layers)  # [-1]: 4 of 8 channels


class StandardisedConv(nn.Conv2d):
    """timm's ScaledStdConv2d: the weight standardised by F.batch_norm before each convolution."""

    def forward(self, x):
        w = F.batch_norm(self.weight.reshape(1, self.out_channels, -1), None, None, training=True, momentum=0.0)
        return F.conv2d(x, w.reshape_as(self.weight), self.bias)


def test_weight_standardisation_is_refused_by_name():
    message = _refused(nn.Sequential(StandardisedConv(3, 4, 3)), (3, 8, 8))
    assert "weight standardisation" in message


def keep_positive(x):
    """As torchvision's batched_nms: how many rows survive depends on the values."""
    kept = torch.nonzero(x[:, :, 0] > 0)
    if kept.shape[0] == 0:
        return x
    return x[:, : 1 + kept.shape[0] % 5]  # 1 to 5 of the 6 rows: never the shape traced


class Keeps(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return keep_positive(self.fc(x))


def test_a_size_that_depends_on_the_data_is_refused_naming_where():
    torch.manual_seed(0)  # (the input is drawn from the global generator, which earlier tests move on)
    message = _refused(Keeps(), (6, 4))
    where = "test_import_torch.keep_positive (called by test_import_torch.Keeps.forward)"
    assert f"sizes depend on the data in {where}" in message
    assert message.count("\n") == 0
