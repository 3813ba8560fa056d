"""`check`, `diff`, `schema` and exports: the CI gate and review tools, through the real entry point.
Reference totals are torchvision's documented counts (see test_published.py)."""

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from helpers import run_cli

from paramcalc import yaml_reader
from paramcalc.budget import parse_amount
from paramcalc.errors import SpecError

ROOT = Path(__file__).parent.parent
SPECS = ROOT / "specs"
RESNET50 = str(SPECS / "resnet50.yaml")
RESNET50_PARAMS = 25_557_032  # torchvision ResNet50_Weights.IMAGENET1K_V1 num_params


@pytest.fixture
def broken(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("input: [3, 32, 32]\nlayers:\n  - conv2d: {out: 8, kernal: 3}\n")
    return str(path)


@pytest.mark.parametrize(
    "text, key, expected",
    [
        ("25557032", "max_params", 25_557_032),
        ("25M", "max_params", 25_000_000),
        ("4.5G", "max_macs", 4_500_000_000),
        ("1_000", "max_params", 1000),
        ("100MiB", "max_param_bytes", 100 * 2**20),
        ("2 GiB", "max_param_bytes", 2 * 2**30),
        ("100MB", "max_param_bytes", 100_000_000),
        ("1.5k", "max_params", 1500),
        (7, "max_params", 7),
    ],
)
def test_amounts(text, key, expected):
    assert parse_amount(text, key) == expected


@pytest.mark.parametrize(
    "text, key",
    [
        ("25Q", "max_params"),
        ("20MiB", "max_params"),
        ("1.5", "max_params"),
        ("-3", "max_params"),
        ("", "max_macs"),
        ("1.0000001K", "max_params"),
    ],
)
def test_bad_amounts(text, key):
    with pytest.raises(SpecError):
        parse_amount(text, key)


def test_check_zoo_passes():
    result = run_cli("check", str(SPECS))
    assert result.returncode == 0, result.stdout + result.stderr
    count = len(list(SPECS.glob("*.yaml")))
    assert result.stdout.splitlines()[-1] == f"{count} specs, {count} ok"


def test_over_budget_exits_1_naming_limit_and_actual():
    result = run_cli("check", RESNET50, "--max-params", "20M")
    assert result.returncode == 1
    assert "25,557,032" in result.stdout and "20,000,000" in result.stdout and "max_params" in result.stdout
    assert result.stdout.splitlines()[-1] == "1 spec, 1 over budget"


def test_invalid_spec_wins_exit_2_and_every_file_is_checked(broken):
    result = run_cli("check", broken, RESNET50, "--max-params", "20M")
    assert result.returncode == 2
    assert "kernal" in result.stdout and "25,557,032" in result.stdout
    assert result.stdout.splitlines()[-1] == "2 specs, 1 over budget, 1 invalid"


def test_expectations():
    ok = run_cli("check", RESNET50, "--expect-params", str(RESNET50_PARAMS), "--expect-output", "1000")
    assert ok.returncode == 0
    wrong = run_cli("check", RESNET50, "--expect-output", "10")
    assert wrong.returncode == 1 and "expected [10]" in wrong.stdout


def test_budget_in_spec_and_flag_wins(tmp_path):
    spec = tmp_path / "budgeted.yaml"
    spec.write_text(Path(RESNET50).read_text() + "budget:\n  max_params: 20M\n  max_macs: 5G\n")
    inside = run_cli("check", str(spec), "--format", "json")
    assert inside.returncode == 1
    (result,) = json.loads(inside.stdout)
    (violation,) = result["violations"]
    assert violation["key"] == "max_params" and violation["limit"] == 20_000_000
    assert violation["actual"] == RESNET50_PARAMS and violation["source"] == "spec"
    assert violation["line"] == len(Path(RESNET50).read_text().splitlines()) + 2
    overridden = run_cli("check", str(spec), "--max-params", "30M")
    assert overridden.returncode == 0


def test_bad_budget_in_spec_is_invalid(tmp_path):
    spec = tmp_path / "b.yaml"
    spec.write_text("input: [4]\nlayers: [relu]\nbudget:\n  max_parms: 1M\n")
    result = run_cli("check", str(spec))
    assert result.returncode == 2 and "did you mean 'max_params'" in result.stdout


@pytest.mark.parametrize("value", ["25Q", "1.5", "20MiB"])
def test_bad_unit_flag_exits_2(value):
    result = run_cli("check", RESNET50, "--max-params", value)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("error: --max-params: max_params")


def test_github_annotations_point_at_lines(broken):
    result = run_cli("check", broken, RESNET50, "--max-params", "20M", "--format", "github")
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"::error file={broken},line=3,col=22,title=paramcalc%3A invalid spec::")
    assert lines[1].startswith(f"::error file={RESNET50},line=")
    assert "%0A" in lines[0] and "\n" not in lines[0]


def test_quiet_prints_only_failures(broken):
    assert run_cli("check", str(SPECS), "-q").stdout == ""
    assert run_cli("check", str(SPECS), broken, "-q").stdout.startswith("INVALID")


def test_globs_and_missing_paths(tmp_path):
    result = run_cli("check", str(SPECS / "resnet*.yaml"))
    assert result.returncode == 0 and "2 specs, 2 ok" in result.stdout
    missing = run_cli("check", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2 and "no such file" in missing.stdout


@pytest.mark.parametrize("path", ["a.yaml", "a*.yaml", "a?.yml", "[ab].yaml", "dir]/x", "**", "", "a\\*", "*[!x]"])
def test_a_path_is_a_glob_as_glob_says(path):
    import glob

    from paramcalc.check import _has_magic

    assert _has_magic(path) == glob.has_magic(path)


def test_diff_markdown_renders_as_tables():
    result = run_cli("diff", str(SPECS / "resnet18.yaml"), RESNET50, "--format", "markdown")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert "| params | 11,689,512 | 25,557,032 | +13,867,520 | +118.6% |" in lines
    for i, line in enumerate(lines):
        if line.startswith("|") and not lines[i - 1].startswith("|"):  # a table header
            assert set(lines[i + 1]) <= set("|:- ") and lines[i + 1].count("|") == line.count("|")
    assert any(line.startswith("| + | `layer1.0.conv3`") for line in lines)


def test_diff_json_and_stdin():
    text = (SPECS / "resnet18.yaml").read_text()
    result = run_cli("diff", "-", RESNET50, "--format", "json", stdin=text)
    report = json.loads(result.stdout)
    assert report["totals"]["params"] == {
        "old": 11_689_512,
        "new": RESNET50_PARAMS,
        "change": RESNET50_PARAMS - 11_689_512,
        "relative": (RESNET50_PARAMS - 11_689_512) / 11_689_512,
    }
    statuses = {layer["status"] for layer in report["layers"]}
    assert statuses == {"added", "changed"}
    same = run_cli("diff", RESNET50, RESNET50, "--format", "json")
    assert json.loads(same.stdout)["layers"] == []


def test_diff_invalid_exits_2(broken):
    result = run_cli("diff", broken, RESNET50)
    assert result.returncode == 2 and result.stdout == ""


def test_schema_validates_zoo_and_rejects_typos():
    result = run_cli("schema")
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for path in SPECS.glob("*.yaml"):
        # read as editors' YAML 1.2 reads it (and paramcalc does): 1e-12 is a number
        errors = list(validator.iter_errors(yaml.load(path.read_text(), Loader=yaml_reader._Loader)))
        assert not errors, f"{path.name}: {errors[0].message}"
    for bad in (
        {"input": [3], "layers": [{"conv2dd": {"out": 3}}]},
        {"input": [3], "layers": ["relu6x"]},
        {"input": [3, 8, 8], "layers": [{"conv2d": {"out": 3, "kernal": 3}}]},
        {"input": [3, 8, 8], "blocks": {"b": {"layers": ["relu"]}}, "layers": [{"linear": {"outt": 3}}]},
        {"input": [3], "layers": ["relu"], "budgett": {}},
    ):
        assert not validator.is_valid(bad), bad
    assert validator.is_valid(
        {
            "input": [3, 8, 8],
            "layers": [{"Conv2d": {"out_channels": 3, "kernel_size": 3}}, {"maxpool2d": 2}, "relu", "linear(3)"],
        }
    )


def test_schema_follows_registry():
    from paramcalc.layers import REGISTRY

    schema = json.loads(run_cli("schema").stdout)
    assert {f"kind_{k}" for k in REGISTRY} <= set(schema["$defs"])


@pytest.mark.parametrize("command", [["analyze", RESNET50], ["diff", str(SPECS / "resnet18.yaml"), RESNET50]])
def test_save_svg_and_html(tmp_path, command):
    svg, html = tmp_path / "t.svg", tmp_path / "t.html"
    result = run_cli(*command, "--save-svg", str(svg), "--save-html", str(html))
    assert result.returncode == 0
    assert svg.read_text().startswith("<svg") and "25,557,032" in svg.read_text().replace("&#160;", " ")
    assert "<html" in html.read_text().lower()
    assert not list(tmp_path.glob(".paramcalc-*"))


def test_failed_run_writes_no_file(tmp_path, broken):
    svg = tmp_path / "t.svg"
    result = run_cli("analyze", broken, "--save-svg", str(svg))
    assert result.returncode == 2 and not svg.exists()
    unwritable = run_cli("analyze", RESNET50, "--save-svg", str(tmp_path / "no" / "dir" / "t.svg"))
    assert unwritable.returncode == 2 and unwritable.stdout == "" and "cannot write" in unwritable.stderr


def test_pre_commit_hook_definition():
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "paramcalc-check" and hook["entry"] == "paramcalc check" and hook["language"] == "python"


# ---------------------------------------------------------------- issue 12: check and diff safe in CI


def test_check_without_specs_exits_2(tmp_path):
    empty = run_cli("check", str(tmp_path))
    assert empty.returncode == 2 and empty.stdout == "" and f"no spec files found in {tmp_path}" in empty.stderr
    nothing = run_cli("check", str(tmp_path / "*.yaml"))
    assert nothing.returncode == 2 and "no spec files match" in nothing.stderr


def test_missing_path_is_named_once(tmp_path):
    missing = str(tmp_path / "nope.yaml")
    result = run_cli("check", missing)
    assert result.returncode == 2 and result.stdout.splitlines()[0] == f"INVALID  {missing}: no such file"
    github = run_cli("check", missing, "--format", "github")
    assert github.stdout.splitlines()[0].count("nope.yaml") == 1


@pytest.mark.parametrize("value", ["2,4", "2,4000", "1,23,456", "2,4MiB"])
def test_ambiguous_separators_are_rejected(value):
    with pytest.raises(SpecError, match="ambiguous separator"):
        parse_amount(value, "max_param_bytes")


def test_grouped_thousands_are_fine():
    assert parse_amount("2,400", "max_params") == 2400
    assert parse_amount("25,557,032", "max_params") == 25_557_032
    assert parse_amount("1,500.5K", "max_params") == 1_500_500


def test_output_mismatch_is_a_failed_expectation_not_over_budget():
    result = run_cli("check", RESNET50, "--expect-output", "10")
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1] == "1 spec, 1 failed expectation"
    (doc,) = json.loads(run_cli("check", RESNET50, "--expect-output", "10", "-f", "json").stdout)
    assert doc["status"] == "failed_expectation" and doc["violations"][0]["type"] == "expectation"
    github = run_cli("check", RESNET50, "--expect-output", "10", "-f", "github").stdout
    assert "title=paramcalc%3A expectation failed::" in github
    both = json.loads(run_cli("check", RESNET50, "--expect-output", "10", "--max-params", "1M", "-f", "json").stdout)
    assert both[0]["status"] == "over_budget"
    assert {v["type"] for v in both[0]["violations"]} == {"limit", "expectation"}


def test_check_json_carries_schema_version():
    (doc,) = json.loads(run_cli("check", RESNET50, "-f", "json").stdout)
    assert doc["schema_version"] == 1 and doc["status"] == "ok"


def _spec(tmp_path, name, layers):
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"name: {name}\ninput: [3, 16, 16]\nlayers:\n" + "".join(f"  - {line}\n" for line in layers))
    return str(path)


def test_diff_renames_exit_code_and_summary(tmp_path):
    old = _spec(
        tmp_path, "old", ["conv2d: {out: 8, kernel: 3, name: stem}", "relu", "flatten", "linear: {out: 10, name: fc}"]
    )
    renamed = _spec(
        tmp_path,
        "new",
        ["conv2d: {out: 8, kernel: 3, name: conv0}", "relu", "flatten", "linear: {out: 10, name: head}"],
    )
    doc = json.loads(run_cli("diff", old, renamed, "-f", "json").stdout)
    assert [(c["status"], c.get("old_name"), c["name"]) for c in doc["layers"]] == [
        ("renamed", "stem", "conv0"),
        ("renamed", "fc", "head"),
    ]
    assert doc["summary"] == {"added": 0, "removed": 0, "changed": 0, "renamed": 2}
    table = run_cli("diff", old, renamed)
    assert "stem → conv0" in table.stdout and table.returncode == 0
    assert table.stdout.splitlines()[0] == f"old ({old}) → new ({renamed})"
    assert table.stdout.splitlines()[-1] == "0 added, 0 removed, 0 changed, 2 renamed layers; params unchanged"
    assert run_cli("diff", old, renamed, "--exit-code").returncode == 1
    assert run_cli("diff", old, old, "--exit-code").returncode == 0
    wider = _spec(
        tmp_path,
        "wider",
        ["conv2d: {out: 16, kernel: 3, name: conv0}", "relu", "flatten", "linear: {out: 10, name: head}"],
    )
    changed = json.loads(run_cli("diff", old, wider, "-f", "json").stdout)
    assert [(c["status"], c["name"]) for c in changed["layers"]][:2] == [("removed", "stem"), ("added", "conv0")]


def test_diff_summary_line_in_every_format_and_unchanged_totals():
    resnet18 = str(SPECS / "resnet18.yaml")
    line = "106 added, 0 removed, 34 changed layers; params +13,867,520 (+118.6%)"
    assert run_cli("diff", resnet18, RESNET50).stdout.splitlines()[-1] == line
    assert line + "." in run_cli("diff", resnet18, RESNET50, "-f", "md").stdout.splitlines()
    assert json.loads(run_cli("diff", resnet18, RESNET50, "-f", "json").stdout)["summary"] == {
        "added": 106,
        "removed": 0,
        "changed": 34,
        "renamed": 0,
    }
    table = run_cli("diff", resnet18, RESNET50).stdout
    assert "      output: 1000    unchanged" in table.splitlines()
    md = run_cli("diff", resnet18, RESNET50, "-f", "md").stdout
    assert "| output | 1000 | 1000 | unchanged | |" in md.splitlines()
    assert f"`resnet18 ({resnet18})`" in md.splitlines()[0]


def test_diff_depth_compares_blocks():
    result = run_cli("diff", str(SPECS / "resnet18.yaml"), RESNET50, "--depth", "1", "-f", "json")
    doc = json.loads(result.stdout)
    names = [c["name"] for c in doc["layers"]]
    assert names == ["layer1", "layer2", "layer3", "layer4", "avgpool", "flatten_1", "fc"]
    layer4 = doc["layers"][3]
    assert layer4["old"]["kind"] == "basic ×2" and layer4["new"]["kind"] == "bottleneck ×3"
    assert doc["depth"] == 1 and doc["summary"]["changed"] == 7


@pytest.mark.parametrize("flag, name", [("--save-svg", "t.png"), ("--save-html", "t.svg"), ("--save-svg", "t")])
def test_export_extension_is_checked(tmp_path, flag, name):
    result = run_cli("analyze", str(SPECS / "lenet5.yaml"), flag, str(tmp_path / name))
    assert result.returncode == 2 and result.stdout == "" and flag in result.stderr
    assert not list(tmp_path.iterdir())


def test_export_permissions_follow_umask(tmp_path):
    import os

    from paramcalc.cli import write_atomic

    old = os.umask(0o027)
    try:
        write_atomic(str(tmp_path / "a.svg"), "<svg/>")
    finally:
        os.umask(old)
    assert (tmp_path / "a.svg").stat().st_mode & 0o777 == 0o640


def _svg_columns(svg: str) -> float:
    import re

    return float(re.search(r'viewBox="0 0 ([\d.]+)', svg).group(1))


def test_export_is_as_wide_as_the_table(tmp_path):
    sizes = {}
    for spec in ("lenet5", "unet"):
        svg = tmp_path / f"{spec}.svg"
        assert run_cli("analyze", str(SPECS / f"{spec}.yaml"), "--save-svg", str(svg)).returncode == 0
        sizes[spec] = svg.read_text()
    assert _svg_columns(sizes["lenet5"]) < _svg_columns(sizes["unet"])
    unet_text = sizes["unet"].replace("&#160;", " ")
    assert "…" not in unet_text
    longest = max(
        json.loads(run_cli("analyze", str(SPECS / "unet.yaml"), "-f", "json").stdout)["layers"],
        key=lambda row: len(row["name"]),
    )["name"]
    assert longest in unet_text


def test_check_in_several_processes_says_what_one_process_says(tmp_path, broken):
    """The same lines, JSON and annotations, in the same order, with an invalid spec, a budget the
    spec sets, a missing file and a memory budget (which reads a report's rows) among the zoo."""
    over = tmp_path / "over.yaml"
    over.write_text("input: [3]\nbudget: {max_params: 5}\nlayers:\n  - linear: 3\n")
    paths = [str(SPECS), broken, str(over), str(tmp_path / "missing.yaml")]
    for fmt in ("table", "json", "github"):
        flags = ["--max-train-memory", "2GiB", "-f", fmt]
        one, many = run_cli("check", *paths, *flags, "-j", "1"), run_cli("check", *paths, *flags, "-j", "3")
        assert many.returncode == one.returncode == 2
        assert (many.stdout, many.stderr) == (one.stdout, one.stderr)
    assert "over budget" in one.stdout or "over_budget" in one.stdout


def test_forked_work_is_done_again_when_a_fork_dies():
    """A fork that crashes (here every fork) sends nothing; this process does its items itself."""
    import os

    from paramcalc.check import _forked

    parent = os.getpid()

    def work(item):
        if os.getpid() != parent:
            os._exit(3)
        return item[0] * 2

    items = [(str(n), None) for n in range(10)]
    assert _forked(work, items, jobs=3) == ["00", "11", "22", "33", "44", "55", "66", "77", "88", "99"]
