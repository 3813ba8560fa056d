"""`paramcalc import hf`, `paramcalc import torch` and `paramcalc verify`.

import hf: the specs of published configs (tests/fixtures/hf/, copied from the model repositories
named below) have the published parameter counts, each figure's source named beside it.
import torch and verify: live against small plain-torch models defined here (torch only; skipped
without it), and the import round trip of torchvision models recorded by
tests/generate_import_fixture.py (tests/fixtures/imported/*.yaml against torch's own numbers).
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import run_cli

from paramcalc import Analysis, SpecError, analyze, parse_spec
from paramcalc.importers.hf import import_hf

ROOT = Path(__file__).parent.parent
HF = ROOT / "tests" / "fixtures" / "hf"

# config file (copied from the model repository's config.json) -> published parameter count, source
PUBLISHED = {
    # meta-llama/Llama-2-7b-hf: 6,738,415,616, the figure of paramcalc issue 15; the Hub's safetensors
    # metadata shows "6.74B params" for the repository
    "llama-2-7b.json": 6_738_415_616,
    # mistralai/Mistral-7B(-Instruct)-v0.1: num_model_parameters 7241732096 in EuroEval/EuroEval issue #188
    "mistral-7b-v0.1.json": 7_241_732_096,
    # openai-community/gpt2 (GPT2LMHeadModel, head tied to wte): 124,439,808, huggingface/transformers
    # issue #14960 (also cited by tests/test_published.py)
    "gpt2.json": 124_439_808,
    # google-bert/bert-base-uncased as BertModel (with pooler): sum(p.nelement()) = 109,482,240,
    # google-research/bert issue #1225
    "bert-base-uncased.json": 109_482_240,
    # google/vit-base-patch16-224 (ViTForImageClassification, 1000 labels; the fixture says num_labels
    # instead of the 1000-entry id2label): the tensors of torchvision's vit_b_16, whose
    # ViT_B_16_Weights.IMAGENET1K_V1.meta["num_params"] is 86,567,656
    "vit-base-patch16-224.json": 86_567_656,
}


# the published figure is the base model's (BertModel, with its pooler); the checkpoint names BertForMaskedLM
AS_PUBLISHED = {"bert-base-uncased.json": {"architectures": ["BertModel"]}}


def imported(name: str, seq=None):
    return analyze(parse_spec(import_hf(str(HF / name), seq), name))


@pytest.mark.parametrize("config", PUBLISHED)
def test_hf_config_has_the_published_count(config, tmp_path):
    if config in AS_PUBLISHED:
        raw = {**json.loads((HF / config).read_text()), **AS_PUBLISHED[config]}
        report = analyze(parse_spec(import_hf(write(tmp_path, raw)), config))
    else:
        report = imported(config)
    assert report.totals.params == PUBLISHED[config]


def test_hf_names_are_the_checkpoints():
    names = {row.name for row in imported("llama-2-7b.json", seq=8).layers}
    assert {
        "model.embed_tokens",
        "model.layers.0.self_attn.q_proj",
        "model.layers.31.mlp.down_proj",
        "model.norm",
        "lm_head",
    } <= names
    gpt2 = imported("gpt2.json", seq=8)
    head = next(r for r in gpt2.layers if r.name == "lm_head")
    assert head.tied_to == "transformer.wte" and head.shared == 50257 * 768


def test_hf_grouped_query_attention_is_narrower():
    rows = {r.name: r for r in imported("mistral-7b-v0.1.json", seq=8).layers}
    assert rows["model.layers.0.self_attn.q_proj"].output_shape == [8, 4096]
    assert rows["model.layers.0.self_attn.k_proj"].output_shape == [8, 1024]  # 8 kv heads of 128


def write(tmp_path, config: dict) -> str:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return str(path)


# transformers' own per-family rules, checked on small configs by hand-computed counts
def test_hf_qwen2_has_qkv_biases_and_gemma_ties_by_default(tmp_path):
    base = {
        "hidden_size": 64,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "vocab_size": 100,
    }
    qwen = analyze(parse_spec(import_hf(write(tmp_path, {**base, "model_type": "qwen2"}), 4)))
    rows = {r.name: r for r in qwen.layers}
    assert rows["model.layers.0.self_attn.q_proj"].bias == 64
    assert rows["model.layers.0.self_attn.k_proj"].bias == 32 and rows["model.layers.0.self_attn.o_proj"].bias == 0
    gemma = analyze(parse_spec(import_hf(write(tmp_path, {**base, "model_type": "gemma", "head_dim": 32}), 4)))
    rows = {r.name: r for r in gemma.layers}
    assert rows["lm_head"].tied_to == "model.embed_tokens"
    assert rows["model.layers.0.self_attn.q_proj"].output_shape == [4, 128]  # heads · head_dim, not hidden


def test_hf_t5_is_an_encoder_decoder(tmp_path):
    # t5-small's shape (d_model 512, 6 + 6 blocks, 8 heads of 64, d_ff 2048, relu, vocab 32128)
    config = {
        "model_type": "t5",
        "d_model": 512,
        "d_kv": 64,
        "d_ff": 2048,
        "num_heads": 8,
        "num_layers": 6,
        "num_decoder_layers": 6,
        "vocab_size": 32128,
        "feed_forward_proj": "relu",
    }
    report = analyze(parse_spec(import_hf(write(tmp_path, config), 16)))
    shared, per_attention, ff = 32128 * 512, 4 * 512 * 512, 2 * 512 * 2048
    encoder = 6 * (per_attention + ff + 2 * 512) + 32 * 8 + 512
    decoder = 6 * (2 * per_attention + ff + 3 * 512) + 32 * 8 + 512
    assert report.totals.params == shared + encoder + decoder
    rows = {r.name: r for r in report.layers}
    assert rows["decoder.block.0.layer.1.EncDecAttention.k"].inputs == ["encoder.dropout"]
    assert "encoder.block.1.layer.0.SelfAttention.relative_attention_bias" not in rows


@pytest.mark.parametrize(
    "config, message",
    [
        ({"model_type": "llamma", "hidden_size": 8}, "model_type 'llamma' is not supported"),
        ({"model_type": "llama"}, "has no 'hidden_size'"),
        ({"model_type": "llama", "hidden_size": "4096"}, "'hidden_size' expects a positive integer"),
        ([1, 2], "a config.json is a JSON object"),
    ],
)
def test_hf_bad_configs_are_exit_2(tmp_path, config, message):
    path = write(tmp_path, config)
    with pytest.raises(SpecError, match=message):
        import_hf(path)
    out = run_cli("import", "hf", path)
    assert out.returncode == 2 and out.stdout == "" and message.split("'")[0] in out.stderr
    assert "Traceback" not in out.stderr


def test_hf_cli_writes_a_spec(tmp_path):
    target = tmp_path / "gpt2.yaml"
    out = run_cli("import", "hf", str(HF / "gpt2.json"), "--seq", "16", "-o", str(target))
    assert out.returncode == 0 and out.stdout == ""
    checked = run_cli("check", str(target), "--expect-params", "124439808")
    assert checked.returncode == 0, checked.stdout


# ---------------------------------------------------------------- import torch and verify (live)

MODELS = textwrap.dedent('''
    import torch
    import torch.nn.functional as F
    from torch import nn


    class Block(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(c)
            self.relu = nn.ReLU()
            self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(c)

        def forward(self, x):
            return self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))) + x)


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1)
            self.layer = nn.Sequential(Block(8), Block(8))
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(8, 10)

        def forward(self, x):
            x = self.pool(self.layer(self.stem(x)))
            return self.fc(torch.flatten(x, 1))


    class Branchy(nn.Module):
        """Data-dependent control flow: torch.fx cannot trace it, module hooks can."""

        def __init__(self):
            super().__init__()
            self.a = nn.Linear(16, 32)
            self.b = nn.Linear(32, 4)

        def forward(self, x):
            if x.sum() > 0:
                x = x * 1
            return self.b(torch.relu(self.a(x)))


    class Scaled(nn.Module):
        """Attention's query scaling, a number times a tensor: a `scale` layer."""

        def __init__(self):
            super().__init__()
            self.a = nn.Linear(16, 8)
            self.b = nn.Linear(8, 4)

        def forward(self, x):
            return self.b(self.a(x) * 8**-0.5)


    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(50, 16)
            self.head = nn.Linear(16, 50, bias=False)
            self.head.weight = self.emb.weight

        def forward(self, tokens):
            return self.head(self.emb(tokens))


    class Between(nn.Module):
        """What torchvision's families compute between modules: chunk and cat (ShuffleNet), functional
        pooling (Inception), a layer scale (ConvNeXt), attention written with einsum and a position bias
        looked up by an index buffer (MaxViT), a head that eval mode never calls (GoogLeNet's aux)."""

        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 8, 3, padding=1)
            self.layer_scale = nn.Parameter(torch.ones(8, 1, 1))
            self.aux = nn.Linear(8, 3)
            self.qkv = nn.Linear(8, 24)
            self.table = nn.Parameter(torch.zeros(7, 2))
            self.register_buffer("index", torch.arange(256) % 7)
            self.fc = nn.Linear(8, 10)

        def forward(self, x):
            a, b = x.chunk(2, dim=1)
            x = self.layer_scale * self.conv(torch.cat([b, a], dim=1))
            x = F.max_pool2d(F.avg_pool2d(x, 3, stride=1, padding=1), 2)  # (8, 4, 4)
            if self.training:
                x = x + self.aux(x.mean((2, 3)))[:, :1, None, None]
            t = x.flatten(2).transpose(1, 2)  # (16, 8)
            q, k, v = torch.chunk(self.qkv(t), 3, dim=-1)
            q, k, v = (y.reshape(x.shape[0], 16, 2, 4).transpose(1, 2) for y in (q, k, v))  # (2, 16, 4)
            bias = self.table[self.index].view(16, 16, 2).permute(2, 0, 1).unsqueeze(0)
            scores = torch.einsum("bhid,bhjd->bhij", q * 0.5, k) + bias
            out = torch.einsum("bhij,bhjd->bhid", scores.softmax(-1), v)
            return self.fc(out.transpose(1, 2).reshape(x.shape[0], 16, 8).mean(1))


    def net():
        return Net()


    def between():
        return Between()


    def wider():
        model = Net()
        model.fc = nn.Linear(8, 12)
        return model


    def branchy():
        return Branchy()


    def tied():
        return Tied()


    def scaled():
        return Scaled()
''')


@pytest.fixture()
def models(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    (tmp_path / "zoo_models.py").write_text(MODELS)
    monkeypatch.chdir(tmp_path)  # the CLI runs there; it must still import this checkout's paramcalc
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    return tmp_path


def _torch_counts(factory):
    import torch  # noqa: F401
    import zoo_models

    model = getattr(zoo_models, factory)()
    return sum(p.numel() for p in model.parameters()), sum(b.numel() for b in model.buffers())


@pytest.mark.parametrize(
    "factory, shape, tokens, traced",
    [
        ("net", "3x32x32", None, "torch.fx"),
        ("branchy", "16", None, "module hooks"),
        ("tied", "12", 50, "torch.fx"),
        ("scaled", "16", None, "torch.fx"),
    ],
)
def test_import_torch_round_trip(models, factory, shape, tokens, traced):
    sys.path.insert(0, str(models))
    args = ["import", "torch", f"zoo_models.py:{factory}", "-i", shape] + (["--tokens", str(tokens)] if tokens else [])
    out = run_cli(*args)
    assert out.returncode == 0, out.stderr
    assert f"traced with {traced}" in out.stdout
    report = analyze(parse_spec(out.stdout, factory))
    params, buffers = _torch_counts(factory)
    assert (report.totals.params, report.totals.buffers) == (params, buffers)
    spec = models / f"{factory}.yaml"
    spec.write_text(out.stdout)
    verified = run_cli("verify", str(spec), f"zoo_models.py:{factory}")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.startswith("ok: ")


def test_import_torch_writes_the_operations_between_modules(models, monkeypatch):
    """Every count of the imported spec is torch's, MACs as FlopCounterMode counts them (halved)."""
    import torch

    monkeypatch.syspath_prepend(str(models))
    import zoo_models
    from torch.utils.flop_counter import FlopCounterMode

    out = run_cli("import", "torch", "zoo_models.py:between", "-i", "4x8x8")
    assert out.returncode == 0, out.stderr
    assert "traced with torch.fx" in out.stdout
    assert "# 2 tensors that the traced forward never reads" in out.stdout
    report = analyze(parse_spec(out.stdout, "between"))
    model = zoo_models.between().eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        output = model(torch.randn(1, 4, 8, 8))
    assert report.totals.params == sum(p.numel() for p in model.parameters())
    assert report.totals.buffers == 256
    assert report.totals.macs == counter.get_total_flops() // 2
    assert report.output_shape == list(output.shape[1:])
    rows = {r.name: r for r in report.layers}
    assert rows["table"].kind == "embedding" and rows["table"].inputs == ["index"]
    assert (rows["aux.weight"].kind, rows["aux.bias"].kind) == ("parameter", "parameter")  # never called
    spec = models / "between.yaml"
    spec.write_text(out.stdout)
    verified = run_cli("verify", str(spec), "zoo_models.py:between")  # the declared tensors are the model's
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_import_torch_names_and_branches(models):
    out = run_cli("import", "torch", "zoo_models.py:net", "-i", "3x32x32")
    rows = {r.name: r for r in analyze(parse_spec(out.stdout)).layers}
    assert {"stem", "layer.0.conv1", "layer.1.bn2", "fc"} <= set(rows)
    residual = next(r for r in rows.values() if r.kind == "add" and r.name.startswith("add"))
    assert residual.inputs == ["layer.0.bn2", "stem"]  # `from:` where the flow branches
    scaled = run_cli("import", "torch", "zoo_models.py:scaled", "-i", "16")
    assert "scale: {by: 0.3535533905932738" in scaled.stdout  # 8 ** -0.5, a new tensor for the memory model


def test_verify_lists_every_difference(models):
    spec = models / "net.yaml"
    spec.write_text(run_cli("import", "torch", "zoo_models.py:net", "-i", "3x32x32").stdout)
    out = run_cli("verify", str(spec), "zoo_models.py:wider", "-f", "json")
    assert out.returncode == 1
    result = json.loads(out.stdout)
    found = {(d["name"], d["what"]): (d["spec"], d["model"]) for d in result["differences"]}
    assert found[("(total)", "params")] == (2682, 2700)  # stem 224 + 2 blocks of 1184 + fc 90 (or 108)
    assert found[("fc", "params")] == (90, 108)
    assert found[("(output)", "output_shape")] == ([10], [12])
    assert ("(total)", "params") in found and len(found) == 3


def test_verify_names_modules_the_spec_lacks(models):
    spec = models / "partial.yaml"
    spec.write_text("input: [3, 32, 32]\nlayers:\n  - conv2d: {out: 8, kernel: 3, stride: 2, padding: 1, name: stem}\n")
    out = run_cli("verify", str(spec), "zoo_models.py:net")
    assert out.returncode == 1
    assert "layer.0.conv1" in out.stdout and "extra" in out.stdout and "fc" in out.stdout


@pytest.mark.parametrize(
    "target, message",
    [
        ("zoo_models.py", "expected MODULE:FACTORY"),
        ("nowhere.py:net", "nowhere.py: no such file"),
        ("zoo_models.py:missing", "has no callable 'missing'"),
    ],
)
def test_verify_bad_targets_are_exit_2(models, target, message):
    spec = models / "s.yaml"
    spec.write_text("input: [4]\nlayers:\n  - linear: 2\n")
    out = run_cli("verify", str(spec), target)
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr


def test_without_torch_the_commands_say_how_to_install(tmp_path):
    blocker = tmp_path / "torch.py"
    blocker.write_text("raise ImportError('blocked for this test')\n")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"}
    spec = tmp_path / "s.yaml"
    spec.write_text("input: [4]\nlayers:\n  - linear: 2\n")
    for args in (["import", "torch", "m.py:f", "-i", "4"], ["verify", str(spec), "m.py:f"]):
        out = run_cli(*args, env=env)
        assert out.returncode == 2
        assert out.stderr == "error: this command needs PyTorch: pip install 'paramcalc[torch]'\n"


# ---------------------------------------------------------------- torchvision round trip (recorded)

IMPORTED = ROOT / "tests" / "fixtures" / "imported"
RECORD = ROOT / "tests" / "fixtures" / "torch_import.json"
ROUND_TRIP = json.loads(RECORD.read_text())["models"] if RECORD.exists() else {}


def test_the_round_trip_covers_every_torchvision_classification_model():
    """The generator ran over all of torchvision.models.list_models(module=torchvision.models)."""
    listed = json.loads(RECORD.read_text())["listed"]
    assert len(listed) >= 80 and list(ROUND_TRIP) == listed


@pytest.mark.parametrize("name", ROUND_TRIP)
def test_torchvision_model_round_trips(name):
    """As recorded: `import torch` of the model, then `analyze`, gave torch's params, buffers, MACs and
    output shape, and `verify` found no difference (the committed specs of one model per family are
    re-analysed with today's code below)."""
    record = ROUND_TRIP[name]
    assert "error" not in record, record.get("error")
    for what in ("params", "buffers", "macs", "output_shape"):
        assert record["paramcalc"][what] == record["torch"][what], what
    assert record["verify_differences"] == []  # and `paramcalc verify` agrees, module by module


@pytest.mark.parametrize("name", sorted(p.stem for p in IMPORTED.glob("*.yaml")))
def test_imported_torchvision_specs_match_torch(name):
    """`import torch` of a torchvision model (recorded with torchvision), analysed by today's code,
    equals what torch reported for that model: params, buffers, MACs and output shape."""
    report = analyze(str(IMPORTED / f"{name}.yaml"))
    torch_says = ROUND_TRIP[name]["torch"]
    assert report.totals.params == torch_says["params"]
    assert report.totals.buffers == torch_says["buffers"]
    assert report.output_shape == torch_says["output_shape"]
    assert report.totals.macs == torch_says["macs"]


# ---------------------------------------------------------------- import hf against transformers

HF_MODELS = json.loads((ROOT / "tests" / "fixtures" / "hf_models.json").read_text())["models"]


def _imported_config(tmp_path, config: dict, seq: int | None):
    path = write(tmp_path, config)
    text = import_hf(path, seq)
    return text, analyze(parse_spec(text, "imported.yaml"))


def _active(report) -> int:
    return report.totals.active_params


@pytest.mark.parametrize("name", HF_MODELS)
def test_hf_import_is_exact_against_transformers(name, tmp_path):
    """tests/generate_hf_fixture.py built each checkpoint's config with transformers on the meta device
    (params, buffers, active params) and a small config of its family (and FlopCounterMode's MACs)."""
    model = HF_MODELS[name]
    text, report = _imported_config(tmp_path, model["config"], None)
    assert model["class"] in text.split("\n", 3)[1]  # the header names the class it mirrors
    assert (report.totals.params, report.totals.buffers) == (model["params"], model["buffers"])
    assert _active(report) == model.get("active_params", model["params"])
    assert not report.warnings
    small = model["small"]
    _, report = _imported_config(tmp_path, small["config"], small["seq"])
    assert (report.totals.params, report.totals.buffers) == (small["params"], small["buffers"])
    assert report.totals.macs == small["macs"]
    assert report.output_shape == small["output_shape"]
    assert _active(report) == small.get("active_params", small["params"])
    assert not report.warnings


def test_hf_llama2_imported_has_the_hand_written_specs_macs_and_kv_cache():
    """import hf then analyze gives specs/llama2_7b.yaml's MACs (the attention products are counted), and the KV
    cache is 2 · layers · kv_heads · head_dim · bytes per position."""
    from paramcalc.memory import Settings, memory

    imported_report = imported("llama-2-7b.json", seq=4096)
    written = analyze(parse_spec((ROOT / "specs" / "llama2_7b.yaml").read_text(), "llama2_7b.yaml"))
    assert imported_report.totals.macs == written.totals.macs == 31_460_635_443_200
    analysis = Analysis.of(parse_spec(import_hf(str(HF / "llama-2-7b.json"), 4096), "llama-2-7b.json"))
    bill = memory(analysis, Settings(train=False, kv_cache=1000, batch=2))
    assert bill.components["kv_cache"] == 2 * 32 * 32 * 128 * 1000 * 2 * 4  # fp32


def test_hf_sliding_windows_cache_at_most_the_window(tmp_path):
    from paramcalc.memory import Settings, memory

    gemma2 = HF_MODELS["gemma-2-9b"]["config"]
    text, _ = _imported_config(tmp_path, gemma2, 16)
    bill = memory(
        Analysis.of(parse_spec(text, "imported.yaml")), Settings(train=False, kv_cache=8192, precision="bf16")
    )
    per_position = 2 * 8 * 256 * 2  # k and v, 8 kv heads of 256, bf16
    assert bill.components["kv_cache"] == 21 * per_position * 4096 + 21 * per_position * 8192


def hf_types_table() -> str:
    """README's table of `import hf` model types: each supported type, the class it mirrors, and the
    checkpoints whose configs tests/fixtures/hf_models.json (or tests/fixtures/hf/) holds for it."""
    from paramcalc.importers.hf import BUILDERS

    lines = ["| model_type | transformers class | checked on |", "|:--|:--|:--|"]
    published = {"gpt2": "gpt2", "vit": "google/vit-base-patch16-224"}
    for family, (_, cls) in BUILDERS.items():
        models = [m for m in HF_MODELS.values() if m["config"]["model_type"] == family]
        checked = list(dict.fromkeys(m["checkpoint"] for m in models))  # each once, in order
        classes = ", ".join(dict.fromkeys([cls, *(m["class"] for m in models)]))  # the base model and its heads
        if not checked and family in published:
            checked = [f"{published[family]} (published count)"]
        lines.append(f"| {family} | {classes} | {', '.join(checked) or 'small configs, counts by hand'} |")
    return "\n".join(lines)


def test_readme_lists_every_hf_model_type():
    readme = (ROOT / "README.md").read_text()
    shown = readme.split("<!-- hf-types -->\n", 1)[1].split("\n<!-- /hf-types -->", 1)[0]
    assert shown == hf_types_table(), "README's import hf table is stale; it should be:\n" + hf_types_table()


def test_hf_default_sequence_is_a_common_context_and_the_header_says_so(tmp_path):
    llama32 = HF_MODELS["llama-3.2-1b"]["config"]  # max_position_embeddings 131,072
    text, report = _imported_config(tmp_path, llama32, None)
    assert report.inputs == {"input_ids": [4096]}
    assert "sequence length 4,096 of the config's 131,072 (--seq to change)" in text.split("name:")[0]
    text, report = _imported_config(tmp_path, {**llama32, "max_position_embeddings": 2048}, None)
    assert report.inputs == {"input_ids": [2048]} and "the config's max_position_embeddings" in text
    text, report = _imported_config(tmp_path, llama32, 100)
    assert report.inputs == {"input_ids": [100]} and "sequence length 100 (--seq)" in text


@pytest.mark.parametrize("model_type", ["mixtral", "qwen4", "gemma2_moe", "phimoe", "llama4"])
def test_hf_never_suggests_a_family_whose_counts_differ(tmp_path, model_type):
    path = write(tmp_path, {"model_type": model_type, "hidden_size": 8})
    try:
        import_hf(path)
    except SpecError as e:
        assert "did you mean" not in str(e).lower() and not e.hint
    out = run_cli("import", "hf", path)
    assert "did you mean" not in out.stderr.lower()


def test_hf_a_typo_is_suggested(tmp_path):
    with pytest.raises(SpecError) as e:
        import_hf(write(tmp_path, {"model_type": "lamma", "hidden_size": 8}))
    assert "llama" in (e.value.hint or "")


def test_hf_mixtral_has_the_published_active_params_and_says_so(tmp_path):
    """Mixtral-8x7B: 46,702,792,704 params, 12,879,925,248 active per token (paramcalc issue 25, Mistral AI's
    46.7 B and 12.9 B); the JSON carries active_params per layer and in the totals; MACs count top_k experts."""
    path = write(tmp_path, HF_MODELS["mixtral-8x7b-v0.1"]["config"])
    spec = tmp_path / "mixtral.yaml"
    assert run_cli("import", "hf", path, "--seq", "8", "-o", str(spec)).returncode == 0
    out = run_cli("analyze", str(spec))
    assert "46.70 G params (46,702,792,704), 12.88 G active per token (12,879,925,248)" in out.stdout.replace(
        " B ", " G "
    )
    data = json.loads(run_cli("analyze", str(spec), "--format", "json").stdout)
    assert data["totals"]["active_params"] == 12_879_925_248 and data["totals"]["params"] == 46_702_792_704
    experts = next(r for r in data["layers"] if r["name"] == "model.layers.0.mlp.experts")
    assert experts["params"] == 8 * 3 * 4096 * 14336 and experts["active_params"] == 2 * 3 * 4096 * 14336
    assert experts["macs"] == 8 * 2 * 3 * 4096 * 14336  # 8 tokens, each through 2 experts


def test_hf_deepseek_latent_attention_caches_the_compressed_kv(tmp_path):
    """Multi-head latent attention caches kv_lora_rank + qk_rope_head_dim per position and layer (DeepSeek-V3:
    512 + 64), not 2 · heads · head_dim."""
    from paramcalc.memory import Settings, memory

    text, _ = _imported_config(tmp_path, HF_MODELS["deepseek-v3"]["config"], 16)
    bill = memory(
        Analysis.of(parse_spec(text, "imported.yaml")), Settings(train=False, kv_cache=1000, precision="bf16")
    )
    assert bill.components["kv_cache"] == 61 * (512 + 64) * 1000 * 2


# ---------------------------------------------------------------- hfvis: convnext, swin, clip, whisper


@pytest.mark.parametrize(
    "change, message",
    [
        ({"hidden_sizes": 96}, "'hidden_sizes' expects a list of 1 to 64 positive integers"),
        ({"depths": [3, 3, True, 3]}, "'depths' expects a list of 1 to 64 positive integers"),
        ({"depths": [3, 3, 9]}, "'depths' expects a list of 4 positive integers"),
        ({"hidden_sizes": [96] * 65}, "'hidden_sizes' expects a list of 1 to 64"),
    ],
)
def test_hf_per_stage_sizes_are_checked(tmp_path, change, message):
    import re

    config = {**HF_MODELS["convnext-tiny-224"]["config"], **change}
    with pytest.raises(SpecError, match=re.escape(message)):
        import_hf(write(tmp_path, config))


def test_hf_convnext_names_and_layer_scale(tmp_path):
    _, report = _imported_config(tmp_path, HF_MODELS["convnext-tiny-224"]["config"], None)
    rows = {r.name: r for r in report.layers}
    assert rows["convnext.encoder.stages.2.layers.8.layer_scale_parameter"].params == 384
    assert rows["convnext.encoder.stages.1.downsampling_layer.1"].output_shape == [192, 28, 28]
    assert "convnext.encoder.stages.0.downsampling_layer.0" not in rows  # the first stage keeps its size


def test_hf_swin_attends_within_windows(tmp_path):
    """Swin-T's first stage: 56×56 patches in 64 windows of 7×7, each its own attention (MACs per window); the
    relative position table ((2·7 − 1)² × 3 heads) is the attention operation's, the index a buffer of 7⁴."""
    _, report = _imported_config(tmp_path, HF_MODELS["swin-tiny-patch4-window7-224"]["config"], None)
    rows = {r.name: r for r in report.layers}
    block = "swin.encoder.layers.0.blocks.1.attention.self."  # the checkpoint's names (transformers 5 renames them)
    assert rows[block + "query"].output_shape == [64, 49, 96]
    assert rows[block + "relative_position_bias_table"].params == 169 * 3
    assert rows[block + "relative_position_bias_table"].macs == 64 * 3 * 49 * 49 * (32 + 32)
    assert rows[block + "relative_position_index"].buffers == 7**4
    assert rows["swin.encoder.layers.0.blocks.1.output.dense"].output_shape == [3136, 96]
    assert rows["swin.encoder.layers.2.downsample.reduction"].output_shape == [49, 768]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"image_size": 200}, "is not a whole number of 7×7 windows"),
        ({"window_size": 8}, "is not a whole number of 8×8 windows"),
        ({"num_heads": [3, 6, 12]}, "'num_heads' expects a list of 4 positive integers"),
        ({"num_heads": 3}, "'num_heads' expects a list of 1 to 64 positive integers"),
        ({"num_heads": [5, 6, 12, 24]}, "num_heads[0] (5) must divide the stage's width (96)"),
    ],
)
def test_hf_swin_refuses_what_it_cannot_count(tmp_path, change, message):
    import re

    config = {**HF_MODELS["swin-tiny-patch4-window7-224"]["config"], **change}
    with pytest.raises(SpecError, match=re.escape(message)):
        import_hf(write(tmp_path, config))


def test_hf_clip_has_both_towers_and_says_what_its_logits_compare(tmp_path):
    text, report = _imported_config(tmp_path, HF_MODELS["clip-vit-base-patch32"]["config"], 16)
    assert report.inputs == {"input_ids": [16], "position_ids": [16], "pixel_values": [3, 224, 224]}
    rows = {r.name: r for r in report.layers}
    assert rows["text_model.encoder.layers.11.self_attn.attention"].output_shape == [16, 512]
    assert rows["vision_model.encoder.layers.11.self_attn.attention"].output_shape == [50, 768]
    assert rows["logit_scale"].params == 1 and rows["text_projection"].params == 512 * 512
    assert "every image with every\n# text of the batch" in text.split("name:")[0]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"text_config": {"hidden_size": "512"}}, "(text_config): 'hidden_size' expects a positive integer"),
        ({"vision_config": [768]}, "'vision_config' expects a mapping, found [768] (a list)"),
        ({"vision_config": {"patch_size": 2**20}}, "(vision_config): 'patch_size' expects a positive integer"),
    ],
)
def test_hf_clip_towers_are_checked_as_configs(tmp_path, change, message):
    import re

    clip = HF_MODELS["clip-vit-base-patch32"]["config"]
    config = {
        **clip,
        **{key: {**clip[key], **value} if isinstance(value, dict) else value for key, value in change.items()},
    }
    with pytest.raises(SpecError, match=re.escape(message)):
        import_hf(write(tmp_path, config))


def test_hf_whisper_ties_proj_out_and_freezes_the_encoder_positions(tmp_path):
    _, report = _imported_config(tmp_path, HF_MODELS["whisper-tiny"]["config"], 16)
    assert report.inputs == {"input_features": [80, 3000], "decoder_input_ids": [16], "decoder_position_ids": [16]}
    rows = {r.name: r for r in report.layers}
    assert rows["proj_out"].tied_to == "model.decoder.embed_tokens" and rows["proj_out"].macs == 16 * 384 * 51865
    assert rows["model.encoder.conv2"].output_shape == [384, 1500]
    assert rows["model.encoder.embed_positions"].params == 1500 * 384
    assert report.totals.params - report.totals.trainable == 1500 * 384  # frozen sinusoids
    cross = "model.decoder.layers.3.encoder_attn."
    assert rows[cross + "k_proj"].inputs == ["model.encoder.layer_norm"] and rows[cross + "k_proj"].bias == 0
    assert rows[cross + "attention"].macs == 6 * 16 * 1500 * (64 + 64)


def test_hf_whisper_reads_its_attribute_map_as_transformers_does(tmp_path):
    """WhisperConfig maps num_hidden_layers to encoder_layers (and hidden_size to d_model): the alias wins."""
    config = {**HF_MODELS["whisper-tiny"]["config"], "num_hidden_layers": 2}
    _, report = _imported_config(tmp_path, config, 16)
    names = {r.name for r in report.layers}
    assert "model.encoder.layers.1.fc1" in names and "model.encoder.layers.2.fc1" not in names
    assert "model.decoder.layers.3.fc1" in names
    with pytest.raises(SpecError, match="--seq 449 is more than the decoder's 448 positions"):
        import_hf(write(tmp_path, HF_MODELS["whisper-tiny"]["config"]), 449)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"encoder_layers": 10**9}, "'encoder_layers' expects a positive integer up to 10,000"),
        ({"num_mel_bins": 0}, "'num_mel_bins' expects a positive integer up to 65,536"),
        ({"max_source_positions": 2**30}, "'max_source_positions' expects a positive integer up to 16,777,216"),
        ({"decoder_attention_heads": 5}, "attention heads (5) must divide d_model (384)"),
    ],
)
def test_hf_whisper_sizes_are_checked(tmp_path, change, message):
    import re

    with pytest.raises(SpecError, match=re.escape(message)):
        import_hf(write(tmp_path, {**HF_MODELS["whisper-tiny"]["config"], **change}), 16)


def test_hf_clip_halves_keep_the_checkpoints_prefix(tmp_path):
    """A CLIPTextModel or CLIPVisionModel checkpoint's tensors are text_model.* and vision_model.* (transformers 5
    drops the prefix on loading)."""
    _, text = _imported_config(tmp_path, HF_MODELS["stable-diffusion-v1-5-text-encoder"]["config"], None)
    assert text.inputs == {"input_ids": [77], "position_ids": [77]}
    assert "text_model.encoder.layers.11.mlp.fc2" in {r.name for r in text.layers}
    _, vision = _imported_config(tmp_path, HF_MODELS["clip-vit-base-patch32-vision"]["config"], None)
    assert "vision_model.post_layernorm" in {r.name for r in vision.layers} and vision.output_shape == [768]


def test_hf_classes_are_num_labels_where_given_else_id2label(tmp_path):
    """PretrainedConfig sets num_labels after id2label: a num_labels of another length replaces the map
    (transformers' configuration_utils.py, the num_labels setter)."""
    config = {**HF_MODELS["convnext-tiny-224"]["config"], "id2label": {str(i): f"c{i}" for i in range(7)}}
    _, report = _imported_config(tmp_path, config, None)
    assert report.output_shape == [1000]
    del config["num_labels"]
    _, report = _imported_config(tmp_path, config, None)
    assert report.output_shape == [7]


# ---------------------------------------------------------------- import hf: task heads, albert, deberta-v2, wav2vec2


def test_hf_an_unknown_head_is_the_base_model_and_the_header_says_so(tmp_path):
    """A head paramcalc does not write gives the base model (BertModel's counts, recorded by the generator), and
    the header names the head and says so; a class name that is not an identifier is never written out."""
    base = HF_MODELS["bert-base-uncased"]
    for name, shown in (("BertForQuestionAnswering", "BertForQuestionAnswering"), ("Bad\nName: [x]", "a class")):
        text, report = _imported_config(tmp_path, {**base["config"], "architectures": [name]}, None)
        header = text.split("\nname:", 1)[0]
        assert f"architectures names {shown}, a head paramcalc does not write: this is its base model" in (
            header.replace("\n# ", " ")
        )
        assert "BertModel" in header.split("\n")[1] and "Bad" not in text
        assert (report.totals.params, report.totals.buffers) == (base["params"], base["buffers"])


@pytest.mark.parametrize(
    "change, message",
    [
        ({"architectures": "BertForMaskedLM"}, "'architectures' expects a list of names"),
        ({"architectures": [["BertForMaskedLM"]]}, "'architectures' expects a list of names"),
        ({"model_type": "wav2vec2", "conv_dim": [512, "512"]}, "'conv_dim' expects a list of 1 to 64 positive"),
        ({"model_type": "wav2vec2", "conv_dim": [8, 8], "conv_kernel": [3]}, "conv_dim, conv_kernel and conv_stride"),
        (
            {"model_type": "deberta-v2", "relative_attention": True, "pos_att_type": "c2p|x2y"},
            "'pos_att_type' expects c2p, p2c or both",
        ),
        ({"model_type": "albert", "num_hidden_groups": 2}, "'num_hidden_groups' other than 1 is not supported"),
    ],
)
def test_hf_bad_encoder_configs_are_exit_2(tmp_path, change, message):
    path = write(tmp_path, {**HF_MODELS["bert-base-uncased"]["config"], **change})
    with pytest.raises(SpecError, match=message):
        import_hf(path)
    out = run_cli("import", "hf", path)
    assert out.returncode == 2 and "Traceback" not in out.stderr


def test_hf_albert_counts_its_shared_layer_once(tmp_path):
    """albert-base-v2: 12 applications of one layer group; each later one ties its weights to the first
    (the JSON's tied_to), and the parameters are transformers' (tests/fixtures/hf_models.json)."""
    model = HF_MODELS["albert-base-v2"]
    text, report = _imported_config(tmp_path, model["config"], 16)
    assert report.totals.params == model["params"] == 11_221_680
    tied = {r.name: r.tied_to for r in report.layers if r.tied_to}
    assert (
        tied["albert.encoder.reuse.10.albert_layers.0.ffn"]
        == "albert.encoder.albert_layer_groups.0.albert_layers.0.ffn"
    )
    assert len(tied) == 11 * 6 + 1  # 6 linears in each of 11 later applications, and the MLM decoder


def test_hf_deberta_refuses_a_sequence_longer_than_its_position_table(tmp_path):
    config = HF_MODELS["deberta-v3-base"]["config"]  # position_buckets 256: a table of 512 relative positions
    _, report = _imported_config(tmp_path, config, 512)
    assert report.output_shape == [512, 768]
    with pytest.raises(SpecError, match="longer than the relative position table"):
        import_hf(write(tmp_path, config), 513)


def test_hf_wav2vec2_reads_a_second_of_audio_by_default(tmp_path):
    model = HF_MODELS["wav2vec2-base-960h"]
    text, report = _imported_config(tmp_path, model["config"], None)
    assert "16,000 samples" in text.split("\n")[1] and report.inputs == {"input_values": [16000]}
    assert report.output_shape == [49, 32]  # 320 samples per frame: 49 frames of 32 CTC logits
    names = {r.name for r in report.layers}
    assert {"wav2vec2.encoder.pos_conv_embed.conv", "wav2vec2.masked_spec_embed", "lm_head"} <= names
    with pytest.raises(SpecError, match="too few for the feature encoder"):  # 400 samples make the first frame
        import_hf(write(tmp_path, model["config"]), 399)
