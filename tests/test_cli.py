"""The command line as a user and a script use it, through the real entry point."""

import csv
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import run_cli

SPECS = Path(__file__).parent.parent / "specs"
LENET_INLINE = [
    "-i",
    "1x32x32",
    "-l",
    "conv2d(6, kernel=5)",
    "-l",
    "relu",
    "-l",
    "maxpool2d(2)",
    "-l",
    "conv2d(16, kernel=5)",
    "-l",
    "relu",
    "-l",
    "maxpool2d(2)",
    "-l",
    "flatten",
    "-l",
    "linear(120)",
    "-l",
    "relu",
    "-l",
    "linear(84)",
    "-l",
    "relu",
    "-l",
    "linear(10)",
]


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
    assert set(report["totals"]) == {
        "params",
        "trainable",
        "non_trainable",
        "weights",
        "bias",
        "buffers",
        "macs",
        "param_bytes",
        "saved_bytes",
        "peak_activation_bytes",
        "active_params",  # added by issue 25 (mixture of experts): params less the experts a token skips
    }
    assert report["totals"]["active_params"] == report["totals"]["params"]  # no experts: all active
    first = report["layers"][0]
    assert {
        "index",
        "name",
        "kind",
        "inputs",
        "input_shapes",
        "output_shape",
        "weights",
        "bias",
        "params",
        "trainable",
        "buffers",
        "macs",
        "activation_bytes",
        "saved_bytes",
    } <= set(first)
    assert first["inputs"] == ["input"] and first["input_shapes"] == [[1, 32, 32]]
    assert "macs" in report["conventions"]


def test_inline_lenet_equals_spec_file():
    from_file = analyze_json(str(SPECS / "lenet5.yaml"))
    inline = analyze_json(*LENET_INLINE)
    assert inline["totals"] == from_file["totals"]
    assert [row["output_shape"] for row in inline["layers"]] == [row["output_shape"] for row in from_file["layers"]]


def test_stdin_yaml_and_json():
    text = (SPECS / "lenet5.yaml").read_text()
    assert (
        analyze_json("-", stdin=text)["totals"]["params"]
        == analyze_json(str(SPECS / "lenet5.yaml"))["totals"]["params"]
    )
    as_json = json.dumps({"input": [1, 32, 32], "layers": [{"conv2d": {"out": 6, "kernel": 5}}]})
    inline_in_yaml = "input: [1, 32, 32]\nlayers:\n  - conv2d(6, kernel=5)\n"
    assert analyze_json("-", stdin=as_json)["layers"] == analyze_json("-", stdin=inline_in_yaml)["layers"]
    assert (
        analyze_json("-", stdin=as_json)["layers"][0]["params"]
        == analyze_json(str(SPECS / "lenet5.yaml"))["layers"][0]["params"]
    )


def test_table_is_plain_when_piped():
    result = run_cli("analyze", str(SPECS / "vgg16.yaml"))
    assert result.returncode == 0
    assert "\x1b[" not in result.stdout
    assert "138,357,544" in result.stdout and "138.36 M params" in result.stdout
    assert "15.47 GMACs" in result.stdout and "527.8 MiB" in result.stdout
    assert "512×7×7" in result.stdout


def test_table_depth_collapses_blocks():
    nested = str(Path(__file__).parent / "fixtures" / "vgg16_stages.yaml")  # VGG-16 with a block per stage
    full = run_cli("analyze", nested).stdout
    collapsed = run_cli("analyze", nested, "--depth", "1").stdout
    assert "features …" in collapsed and "features.stage_1.conv.0.conv2d_1" not in collapsed
    assert "features.stage_1.conv.0.conv2d_1" in full
    stages = run_cli("analyze", nested, "--depth", "2").stdout
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
    result = subprocess.run(
        ["paramcalc", "analyze", str(SPECS / "lenet5.yaml"), "-f", "json"], capture_output=True, text=True
    )
    assert json.loads(result.stdout)["name"] == "lenet5"


def test_json_run_does_not_import_rich():
    code = (
        "import sys; from paramcalc.cli import app\n"
        "try: app(['analyze', {!r}, '-f', 'json'])\nexcept SystemExit: pass\n"
        "sys.stderr.write(str('rich' in sys.modules))"
    ).format(str(SPECS / "lenet5.yaml"))
    result = subprocess.run(["python", "-c", code], capture_output=True, text=True)
    assert result.stderr.strip().endswith("False")


def test_pytorch_argument_names_are_accepted():
    # The same layer written with paramcalc's short names and with nn.Conv2d's own argument names.
    short = analyze_json("-i", "3x32x32", "-l", "conv2d(16, kernel=3, stride=2)")
    torch_style = analyze_json(
        "-",
        stdin="input: [3, 32, 32]\nlayers:\n  - Conv2d: {in_channels: 3, "
        "out_channels: 16, kernel_size: [3, 3], stride: 2, padding_mode: zeros}\n",
    )
    assert short["layers"][0]["params"] == torch_style["layers"][0]["params"]
    assert short["layers"][0]["output_shape"] == torch_style["layers"][0]["output_shape"]


def test_depth_two_shows_stages_and_their_blocks():
    lines = run_cli("analyze", str(SPECS / "resnet50.yaml"), "--depth", "2").stdout.splitlines()
    names = [line.split()[1] for line in lines if line.strip()[:1].isdigit()]
    assert names[:8] == ["conv1", "bn1", "relu", "maxpool", "layer1", "layer1.0", "layer1.1", "layer1.2"]
    stage = next(line for line in lines if " layer1 " in line)
    block = next(line for line in lines if "layer1.0 …" in line)
    assert block.index("layer1.0") > stage.index("layer1")  # indented under its stage
    assert not any("layer1.0.conv1" in line for line in lines)


def test_every_kind_is_documented():
    catalogue = json.loads(run_cli("kinds", "--format", "json").stdout)
    for kind in catalogue["kinds"]:
        assert kind["doc"], kind["kind"]
        assert {"output", "weights", "bias", "macs"} <= set(kind["formulas"]), kind["kind"]
        assert all(field["doc"] for field in kind["fields"]), kind["kind"]


# ---------------------------------------------------------------- issue 12: CLI conventions


@pytest.mark.parametrize("command", [[], ["analyze"], ["check"], ["diff"], ["kinds"], ["schema"]])
def test_short_help_everywhere(command):
    result = run_cli(*command, "-h")
    assert result.returncode == 0 and result.stdout.startswith("Usage: paramcalc")


@pytest.mark.parametrize("command", ["analyze", "check", "diff", "kinds", "schema"])
def test_help_ends_with_real_examples(command):
    text = run_cli(command, "--help").stdout
    examples = [line.strip() for line in text.split("Examples:\n")[1].splitlines() if line.strip()]
    assert 1 <= len(examples) <= 4 and all(line.startswith(("paramcalc ", "git show")) for line in examples)
    import shlex

    for line in examples:  # the runnable ones run: they use the zoo, no pipe, no placeholder file
        args = shlex.split(line.split("#")[0])
        if (
            "|" not in line
            and ">" not in line
            and not any(a.endswith(".yaml") and not a.startswith("specs/") for a in args)
        ):
            result = subprocess.run(
                [sys.executable, "-m", "paramcalc", *args[1:]],
                capture_output=True,
                text=True,
                cwd=SPECS.parent,
                timeout=60,
            )
            assert result.returncode in (0, 1), (line, result.stderr)


def test_metavars_say_what_they_are():
    text = run_cli("analyze", "--help").stdout
    for metavar in (
        "[SPEC]",
        "-i, --input SHAPE",
        "-l, --layer LAYER",
        "-d, --depth N",
        "-b, --batch N",
        "--save-svg FILE.svg",
    ):
        assert metavar in text, metavar
    assert "PATH..." in run_cli("check", "--help").stdout


@pytest.mark.parametrize("fmt", ["JSON", "Json", "md", "MD", "Markdown"])
def test_format_any_case_and_md_alias(fmt):
    result = run_cli("analyze", str(SPECS / "lenet5.yaml"), "-f", fmt)
    assert result.returncode == 0
    expected = "json" if fmt.lower() == "json" else "markdown"
    assert result.stdout == run_cli("analyze", str(SPECS / "lenet5.yaml"), "-f", expected).stdout
    assert run_cli("diff", str(SPECS / "lenet5.yaml"), str(SPECS / "lenet5.yaml"), "-f", "MD").returncode == 0


def test_misspelt_command_and_option_get_a_suggestion():
    command = run_cli("analyse", str(SPECS / "lenet5.yaml"))
    assert command.returncode == 2 and "Did you mean 'analyze'?" in command.stderr
    option = run_cli("analyze", str(SPECS / "lenet5.yaml"), "--fromat", "json")
    assert option.returncode == 2 and "--format" in option.stderr


def _complete(words):
    import os

    env = {**os.environ, "_PARAMCALC_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": words}
    return run_cli(env=env).stdout


def test_shell_completion():
    assert "--install-completion" in run_cli("--help").stdout
    assert "_paramcalc_completion" in run_cli("--show-completion", "bash").stdout
    assert '"analyze"' in _complete("paramcalc ana")
    assert '"--format"' in _complete("paramcalc analyze --for")
    assert all(f'"{f}"' in _complete("paramcalc analyze x.yaml --format ") for f in ("json", "csv", "markdown"))
    kinds = _complete("paramcalc kinds batchn")
    assert '"batchnorm1d"' in kinds and '"batchnorm2d"' in kinds and '"conv2d"' not in kinds


@pytest.mark.parametrize("keyword, expected", [("repaet: 3", "repeat"), ("frm: input", "from")])
def test_misspelt_layer_keyword(keyword, expected):
    spec = f"input: [3, 8, 8]\nlayers:\n  - conv2d: 4\n    {keyword}\n"
    result = run_cli("analyze", "-", stdin=spec)
    assert result.returncode == 2 and f"did you mean '{expected}'?" in result.stderr
    assert "missing '-'" not in result.stderr
    inside = run_cli("analyze", "-", stdin="input: [3, 8, 8]\nlayers:\n  - add: {frm: input}\n")
    assert "did you mean 'from'?" in inside.stderr


@pytest.mark.parametrize("shape", ["[3,32,32]", "[3, 32, 32]", "(3,32,32)", "3x32x32"])
def test_input_shape_as_yaml_writes_it(shape):
    report = analyze_json("-i", shape, "-l", "conv2d(4, kernel=3)")
    assert report["input_shape"] == [3, 32, 32]


def test_python_api_is_what_the_cli_uses():
    import paramcalc

    report = paramcalc.analyze(paramcalc.load_spec(str(SPECS / "lenet5.yaml")))
    assert report.to_dict()["totals"] == analyze_json(str(SPECS / "lenet5.yaml"))["totals"]
    source = (Path(__file__).parent.parent / "paramcalc" / "cli.py").read_text()
    assert "from . import analyze as run, inline_spec, load_spec" in source


def test_columns_and_wide_options():
    result = run_cli("analyze", str(SPECS / "lenet5.yaml"), "--columns", "name,params")
    assert result.stdout.splitlines()[0].split() == ["name", "params"]
    bad = run_cli("analyze", str(SPECS / "lenet5.yaml"), "--columns", "name,parms")
    assert bad.returncode == 2 and "did you mean 'params'?" in bad.stderr
    json_cols = run_cli("analyze", str(SPECS / "lenet5.yaml"), "--columns", "name", "-f", "json")
    assert json_cols.returncode == 2
    assert (
        run_cli("analyze", str(SPECS / "lenet5.yaml"), "--wide").stdout
        == run_cli("analyze", str(SPECS / "lenet5.yaml")).stdout
    )


# ---------------------------------------------------------------- issue 12: `paramcalc kinds`


def test_kinds_text_is_verbatim():
    avgpool = run_cli("kinds", "avgpool2d").stdout
    assert "object at 0x" not in avgpool and "_AvgPool" not in avgpool
    assert "Mean over sliding windows" in avgpool
    formulas = avgpool.split("formulas")[1]
    assert "dilation" not in formulas
    assert "dilation" in run_cli("kinds", "maxpool2d").stdout.split("formulas")[1]
    assert "from: [query, key_value]" in run_cli("kinds", "multiheadattention").stdout
    assert "from: [target, memory]" in run_cli("kinds", "transformerdecoderlayer").stdout
    assert "[lower, upper]" in run_cli("kinds", "rrelu").stdout


def test_every_kind_shows_its_bracketed_examples():
    import re

    from paramcalc.kinds import describe_kind
    from paramcalc.layers import REGISTRY
    from paramcalc.render.kinds import render_kind
    from paramcalc.render.table import Screen

    for key in REGISTRY:
        info = describe_kind(key)
        text = render_kind(info, Screen())
        texts = [info["doc"], *info["formulas"].values(), *(f["doc"] for f in info["fields"])]
        flat = " ".join(text.split())
        for bracketed in (b for t in texts for b in re.findall(r"\[[^\]]*\]", t)):
            assert " ".join(bracketed.split()) in flat, (key, bracketed)
        assert "object at 0x" not in text
    assert (
        "object at 0x" not in run_cli("schema").stdout and "object at 0x" not in run_cli("kinds", "-f", "json").stdout
    )


def test_kinds_partial_name_lists_matches():
    result = run_cli("kinds", "conv")
    assert result.returncode == 0
    for kind in ("conv1d", "conv2d", "conv3d", "convtranspose1d", "convtranspose2d", "convtranspose3d"):
        assert kind in result.stdout
    doc = json.loads(run_cli("kinds", "conv", "-f", "json").stdout)
    assert [k["kind"] for k in doc["kinds"]][:3] == ["conv1d", "conv2d", "conv3d"]
    unknown = run_cli("kinds", "zzzz")
    assert unknown.returncode == 2


def test_a_named_command_is_the_only_one_built():
    probe = (
        "from paramcalc import cli\n"
        "cli.only_the_command(['{}'])\n"
        "print(sorted(c.callback.__name__ for c in cli.app.registered_commands), len(cli.app.registered_groups))"
    )
    built = {
        name: subprocess.run([sys.executable, "-c", probe.format(name)], capture_output=True, text=True).stdout.split()
        for name in ("check", "import", "anlyze")
    }
    assert built["check"] == ["['check']", "0"]
    assert built["import"] == ["[]", "1"]
    assert len(built["anlyze"]) > 2  # not a command: all of them, to suggest the right one


def test_commands_behave_the_same_when_only_one_is_built():
    mistyped = run_cli("anlyze", "x")
    assert mistyped.returncode == 2 and "Did you mean 'analyze'?" in mistyped.stderr
    listed = run_cli("--help").stdout
    assert all(name in listed for name in ("analyze", "check", "diff", "memory", "import", "verify", "kinds"))
    assert run_cli("import", "hf", "--help").stdout.startswith("Usage: paramcalc import hf")


# ---------------------------------------------------------------- issue 28: help that teaches

HELPED = [["analyze"], ["check"], ["diff"], ["memory"], ["export"], ["verify"], ["import", "hf"], ["import", "torch"]]


def _help(command, columns):
    import os

    env = {**os.environ, "COLUMNS": str(columns)}
    return run_cli(*command, "--help", env=env).stdout


def _examples(text):
    """The examples of a help text, each wrapped example joined back into one command."""
    lines = text.split("Examples:\n")[1].splitlines()
    joined = "\n".join(line.strip() for line in lines).replace(" \\\n", " ")
    return [line for line in joined.splitlines() if line]


@pytest.mark.parametrize("command", HELPED, ids=" ".join)
def test_every_command_has_examples_and_plain_metavars(command):
    text = _help(command, 80)
    usage = text.splitlines()[0]
    assert "{" not in usage and "}" not in usage, usage
    assert not re.search(r"<[a-z |]+>", text), re.search(r"<[a-z |]+>", text)  # not <str>, <int range>
    examples = _examples(text)
    assert examples and all(e.startswith(f"paramcalc {' '.join(command)} ") or "| paramcalc" in e for e in examples)
    arguments = [word.strip("[]") for word in usage.split("[OPTIONS]")[1].split()]
    options = re.findall(r"^  (?:-\w, )?--[\w-]+ ([^\s/]\S*)", text, re.M)
    for metavar in arguments + options:  # SPEC, N, FORMAT, MODULE:FACTORY, FILE.svg, PATH...
        assert re.fullmatch(r"[A-Z][A-Z:_]*(\.\.\.)?|FILE\.[a-z]+", metavar), metavar
    assert "-f, --format FORMAT" in text or "--format" not in text


@pytest.mark.parametrize("command", HELPED, ids=" ".join)
def test_help_wraps_at_word_boundaries(command):
    """At 80 columns, and at 50, no help line is wider than the screen (but a single word), and a
    wrapped example is the same command continued with a backslash."""
    wide = _help(command, 80)
    for columns in (80, 50):
        text = _help(command, columns)
        for line in text.splitlines():
            assert len(line) <= columns or len(line.split()) == 1, line
        assert _examples(text) == _examples(wide)
    narrow = _help(command, 50).split("Examples:\n")[1]
    for line in narrow.splitlines():
        if line.endswith(" \\"):  # broken between words, never inside a quoted one
            assert line.count("'") % 2 == 0, line


def test_check_strict_says_why_it_failed(tmp_path):
    path = tmp_path / "unread.yaml"
    path.write_text("input: [4]\nlayers:\n  - linear: {out: 3}\n  - linear: {out: 2, from: input}\n")
    plain = run_cli("check", str(path))
    assert plain.returncode == 0 and plain.stdout.startswith("ok ") and "never used" in plain.stderr
    for args in ([], ["-q"]):
        strict = run_cli("check", "--strict", *args, str(path), str(SPECS / "lenet5.yaml"))
        assert strict.returncode == 1
        lines = strict.stdout.splitlines()
        assert lines[0] == (
            f"FAIL     {path}:3:5: layer 0 'linear_1' (linear): its output is never used: no layer reads it "
            "and it is not in 'outputs' (a forgotten 'from:'?) (a warning: --strict fails on warnings)"
        )
        assert not any(line.startswith("ok") and "unread.yaml" in line for line in lines)
    assert lines == lines[:1]  # -q: the failure only
    summary = run_cli("check", "--strict", str(path), str(SPECS / "lenet5.yaml")).stdout.splitlines()[-1]
    assert summary == "2 specs, 1 ok, 1 failed on warnings (--strict)"
    github = run_cli("check", "--strict", "--format", "github", str(path))
    assert github.returncode == 1 and github.stdout.startswith(f"::error file={path},line=3,col=5,")


def test_budgets_read_as_people_write_them():
    """Parameter counts in B (billions); bytes over a budget in binary units beside the exact count."""
    over = run_cli("check", str(SPECS / "llama2_7b.yaml"), "--max-params", "6.5B", "--max-param-bytes", "20GiB")
    assert over.returncode == 1
    assert over.stdout.splitlines()[:2] == [
        f"FAIL     {SPECS / 'llama2_7b.yaml'}: params 6,738,415,616 exceed max_params 6,500,000,000 by "
        "238,415,616 (3.7%)",
        f"FAIL     {SPECS / 'llama2_7b.yaml'}: param_bytes 25.1 GiB (26,953,662,464) exceed max_param_bytes "
        "20.0 GiB (21,474,836,480) by 5.1 GiB (25.5%)",
    ]
    ok = run_cli("check", str(SPECS / "llama2_7b.yaml"), "--max-params", "7B")
    assert ok.returncode == 0 and ": 6.74 B params, 31.46 TMACs," in ok.stdout


BASE_SPEC = """input: [3, 16, 16]
layers:
  - conv2d: {out: 8, kernel: 3, padding: 1}
  - batchnorm2d
  - gelu
  - dropout: 0.1
  - flatten
  - layernorm
  - linear: 10
"""


@pytest.mark.parametrize(
    "old, new, field",
    [
        ("dropout: 0.1", "dropout: 0.5", "p"),
        ("padding: 1}", "padding: 1, padding_mode: reflect}", "padding_mode"),
        ("- gelu", "- gelu: {approximate: tanh}", "approximate"),
        ("- layernorm", "- layernorm: {eps: 1.0e-6}", "eps"),
        ("- batchnorm2d", "- batchnorm2d: {momentum: 0.01}", "momentum"),
    ],
)
def test_diff_exit_code_sees_a_change_no_count_shows(tmp_path, old, new, field):
    """A PR gate sees every change of the spec's meaning, and the summary says what kind it was."""
    before, after = tmp_path / "before.yaml", tmp_path / "after.yaml"
    before.write_text(BASE_SPEC)
    after.write_text(BASE_SPEC.replace(old, new, 1))
    assert after.read_text() != BASE_SPEC
    result = run_cli("diff", str(before), str(after), "--exit-code")
    assert result.returncode == 1, result.stdout + result.stderr
    summary = result.stdout.splitlines()[-1]
    assert summary == f"0 added, 0 removed, 1 changed layers (1 in settings only: {field}); params unchanged"
    layers = json.loads(run_cli("diff", str(before), str(after), "-f", "json").stdout)["layers"]
    assert [layer["settings_changed"] for layer in layers] == [[field]]
    assert run_cli("diff", str(before), str(before), "--exit-code").returncode == 0
    at_depth = run_cli("diff", str(before), str(after), "--exit-code", "--depth", "1")
    assert at_depth.returncode == 1


def test_columns_help_names_every_column():
    from paramcalc import analyze as run, load_spec
    from paramcalc.render.table import default_columns, extra_columns

    report = run(load_spec(str(SPECS / "resnet50.yaml")))
    words = " ".join(_help(["analyze"], 80).split("--columns COLUMNS")[1].split("--wide")[0].split())
    for column in default_columns(report) + extra_columns(report, True, True, True):
        assert f" {column.key}," in words or f" {column.key}." in words or f" {column.key};" in words, column.key
    picked = run_cli("analyze", str(SPECS / "lenet5.yaml"), "--columns", "name,rf,macs_share")
    assert picked.returncode == 0 and picked.stdout.split("\n")[0].split() == ["name", "RF", "MACs", "share"]
