"""The command line as a user and a script use it, through the real entry point."""

import csv
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import run_cli

SPECS = Path(__file__).parent.parent / "specs"
LENET_INLINE = ["-i", "1x32x32", "-l", "conv2d(6, kernel=5)", "-l", "relu", "-l", "maxpool2d(2)",
                "-l", "conv2d(16, kernel=5)", "-l", "relu", "-l", "maxpool2d(2)", "-l", "flatten",
                "-l", "linear(120)", "-l", "relu", "-l", "linear(84)", "-l", "relu", "-l", "linear(10)"]


def analyze_json(*args, stdin=None):
    result = run_cli("analyze", *args, "--format", "json", stdin=stdin)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_vgg16_json_matches_torchvision_published_count():
    # torchvision.models.VGG16_Weights.IMAGENET1K_V1 documents num_params 138,357,544
    report = analyze_json(str(SPECS / "vgg16.yaml"))
    assert report["totals"]["params"] == 138_357_544
    assert report["output_shape"] == [1000]


def test_json_contract_keys():
    report = analyze_json(str(SPECS / "lenet5.yaml"))
    assert report["schema_version"] == 1
    assert list(report)[:6] == ["schema_version", "name", "input_shape", "batch", "dtype", "conventions"]
    assert set(report["totals"]) == {"params", "trainable", "non_trainable", "weights", "bias", "buffers", "macs",
                                     "param_bytes", "saved_bytes", "peak_activation_bytes"}
    first = report["layers"][0]
    assert {"index", "name", "kind", "inputs", "input_shapes", "output_shape", "weights", "bias", "params",
            "trainable", "buffers", "macs", "activation_bytes", "saved_bytes"} <= set(first)
    assert first["inputs"] == ["input"] and first["input_shapes"] == [[1, 32, 32]]
    assert "macs" in report["conventions"]


def test_inline_lenet_equals_spec_file():
    from_file = analyze_json(str(SPECS / "lenet5.yaml"))
    inline = analyze_json(*LENET_INLINE)
    assert inline["totals"] == from_file["totals"]
    assert [row["output_shape"] for row in inline["layers"]] == [row["output_shape"] for row in from_file["layers"]]


def test_stdin_yaml_and_json():
    text = (SPECS / "lenet5.yaml").read_text()
    assert analyze_json("-", stdin=text)["totals"]["params"] == analyze_json(str(SPECS / "lenet5.yaml"))["totals"]["params"]
    as_json = json.dumps({"input": [1, 32, 32], "layers": [{"conv2d": {"out": 6, "kernel": 5}}]})
    inline_in_yaml = "input: [1, 32, 32]\nlayers:\n  - conv2d(6, kernel=5)\n"
    assert analyze_json("-", stdin=as_json)["layers"] == analyze_json("-", stdin=inline_in_yaml)["layers"]
    assert analyze_json("-", stdin=as_json)["layers"][0]["params"] == analyze_json(
        str(SPECS / "lenet5.yaml"))["layers"][0]["params"]


def test_table_is_plain_when_piped():
    result = run_cli("analyze", str(SPECS / "vgg16.yaml"))
    assert result.returncode == 0
    assert "\x1b[" not in result.stdout
    assert "138,357,544" in result.stdout and "138.36 M params" in result.stdout
    assert "15.47 GMACs" in result.stdout and "527.8 MiB" in result.stdout
    assert "512×7×7" in result.stdout


def test_table_depth_collapses_blocks():
    full = run_cli("analyze", str(SPECS / "vgg16.yaml")).stdout
    collapsed = run_cli("analyze", str(SPECS / "vgg16.yaml"), "--depth", "1").stdout
    assert "features …" in collapsed and "features.stage_1.conv.0.conv2d_1" not in collapsed
    assert "features.stage_1.conv.0.conv2d_1" in full
    stages = run_cli("analyze", str(SPECS / "vgg16.yaml"), "--depth", "2").stdout
    assert "features.stage_5 …" in stages and "classifier.linear_3" in stages
    assert len(collapsed.splitlines()) < len(full.splitlines())


def test_csv_has_header_and_one_row_per_layer():
    result = run_cli("analyze", str(SPECS / "lenet5.yaml"), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    report = analyze_json(str(SPECS / "lenet5.yaml"))
    assert len(rows) == len(report["layers"])
    assert rows[0]["output_shape"] == "6x28x28" and int(rows[0]["params"]) == report["layers"][0]["params"]


def test_markdown_is_a_github_table():
    result = run_cli("analyze", str(SPECS / "lenet5.yaml"), "--format", "markdown")
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| #"))
    assert set(lines[header + 1]) <= set("|:- ")
    assert all(line.count("|") == lines[header].count("|") for line in lines[header:] if line.startswith("|"))


def test_batch_scales_macs_not_shapes():
    one = analyze_json(str(SPECS / "lenet5.yaml"))
    eight = analyze_json(str(SPECS / "lenet5.yaml"), "--batch", "8")
    assert eight["totals"]["macs"] == 8 * one["totals"]["macs"]
    assert eight["totals"]["params"] == one["totals"]["params"]
    assert eight["output_shape"] == one["output_shape"]


def test_kinds_lists_every_kind_and_details_one():
    from paramcalc.layers import REGISTRY
    listing = run_cli("kinds", "--format", "json")
    assert {k["kind"] for k in json.loads(listing.stdout)["kinds"]} == set(REGISTRY)
    detail = run_cli("kinds", "Conv2d")
    assert detail.returncode == 0
    for word in ("out_channels", "kernel_size", "groups", "weights", "macs"):
        assert word in detail.stdout
    table = run_cli("kinds")
    assert "batchnorm2d" in table.stdout and "MACs" in table.stdout


def test_version_and_help():
    assert run_cli("--version").stdout.startswith("paramcalc ")
    assert "analyze" in run_cli("--help").stdout


@pytest.mark.skipif(shutil.which("paramcalc") is None, reason="console script not installed")
def test_console_script():
    result = subprocess.run(["paramcalc", "analyze", str(SPECS / "lenet5.yaml"), "-f", "json"],
                            capture_output=True, text=True)
    assert json.loads(result.stdout)["name"] == "lenet5"


def test_json_run_does_not_import_rich():
    code = ("import sys; from paramcalc.cli import app\n"
            "try: app(['analyze', %r, '-f', 'json'])\nexcept SystemExit: pass\n"
            "sys.stderr.write(str('rich' in sys.modules))") % str(SPECS / "lenet5.yaml")
    result = subprocess.run(["python", "-c", code], capture_output=True, text=True)
    assert result.stderr.strip().endswith("False")


def test_pytorch_argument_names_are_accepted():
    # The same layer written with paramcalc's short names and with nn.Conv2d's own argument names.
    short = analyze_json("-i", "3x32x32", "-l", "conv2d(16, kernel=3, stride=2)")
    torch_style = analyze_json("-", stdin="input: [3, 32, 32]\nlayers:\n  - Conv2d: {in_channels: 3, "
                                          "out_channels: 16, kernel_size: [3, 3], stride: 2, padding_mode: zeros}\n")
    assert short["layers"][0]["params"] == torch_style["layers"][0]["params"]
    assert short["layers"][0]["output_shape"] == torch_style["layers"][0]["output_shape"]


def test_depth_two_shows_stages_and_their_blocks():
    lines = run_cli("analyze", str(SPECS / "resnet50.yaml"), "--depth", "2").stdout.splitlines()
    names = [line.split()[1] for line in lines if line.strip()[:1].isdigit()]
    assert names[:8] == ["conv1", "bn1", "relu", "maxpool", "layer1", "layer1.0", "layer1.1", "layer1.2"]
    stage = next(line for line in lines if " layer1 " in line)
    block = next(line for line in lines if "layer1.0 …" in line)
    assert block.index("layer1.0") > stage.index("layer1")      # indented under its stage
    assert not any("layer1.0.conv1" in line for line in lines)


def test_every_kind_is_documented():
    catalogue = json.loads(run_cli("kinds", "--format", "json").stdout)
    for kind in catalogue["kinds"]:
        assert kind["doc"], kind["kind"]
        assert {"output", "weights", "bias", "macs"} <= set(kind["formulas"]), kind["kind"]
        assert all(field["doc"] for field in kind["fields"]), kind["kind"]
