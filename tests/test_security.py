"""Safe on untrusted specs (issue 8): every limit at its edge (just under passes, just over is a
clear error), every destination's escaping, and the file and stream cases, through the real CLI
where it matters."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys

import pytest
from helpers import run_cli

from paramcalc import SpecError, analyze, escape, expressions, parse_spec, yaml_reader
from paramcalc.errors import Loc

LOC = Loc("t.yaml", 1, 1)


def spec(body: str, head: str = "input: [4]\n") -> str:
    return head + "layers:\n" + body


def error_of(text: str) -> str:
    with pytest.raises(SpecError) as e:
        analyze(parse_spec(text, "t.yaml"))
    return str(e.value)


# ------------------------------------------------------------------ escaping, per destination


def test_terminal_shows_every_unprintable_character_as_an_escape():
    assert escape.terminal("a\nb\r\t\x1b]0;x\x07") == "a\\nb\\r\\t\\x1b]0;x\\x07"
    assert escape.terminal("\u2028\u2029\x85\u202e\x7f") == "\\u2028\\u2029\\x85\\u202e\\x7f"
    assert escape.terminal("café × 32 [bold]") == "café × 32 [bold]"  # printable text is kept


def test_quote_cuts_long_values():
    assert escape.quote("relu") == "'relu'"
    long = escape.quote("s" * 500)
    assert long.startswith("'" + "s" * 80 + "…") and "500 characters" in long and len(long) < 110


def test_markdown_escapes_html_pipes_and_links():
    assert escape.markdown("<img src=x>") == "\\<img src\\=x\\>"
    assert escape.markdown("a|b") == "a\\|b"
    assert escape.markdown("[x](javascript:y)") == "\\[x\\]\\(javascript\\:y\\)"
    assert escape.markdown_code("a`b|c") == "``a`b\\|c``"
    assert escape.markdown_code("`x") == "`` `x ``"


def test_github_escapes_as_the_actions_toolkit_does():
    # actions/toolkit packages/core/src/command.ts: escapeData and escapeProperty
    assert escape.github_data("50%\r\nnext: a, b") == "50%25%0D%0Anext: a, b"
    assert escape.github_property("50%\r\nnext: a, b") == "50%25%0D%0Anext%3A a%2C b"


@pytest.mark.parametrize("cell", ["=1+2", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_csv_cells_that_would_be_formulas_get_a_quote(cell):
    assert escape.csv_cell(cell).startswith("'")


def test_csv_plain_cells_unchanged():
    assert escape.csv_cell("conv1") == "conv1"


# ------------------------------------------------------------------ names


@pytest.mark.parametrize("name", ["a\nb", "a\x1b[2Jb", "a\u2028b", "a\x85b", "a\u202eb", "a\tb", ""])
def test_layer_names_with_control_characters_are_refused(name):
    import json

    message = error_of(spec(f"  - relu: {{name: {json.dumps(name)}}}\n"))
    assert message.startswith("t.yaml:3:18: layer name")
    assert "\x1b" not in message and "\n" not in message.split("\n")[0][1:]


def test_name_length_edge():
    analyze(parse_spec(spec(f"  - relu: {{name: {'a' * 128}}}\n"), "t.yaml"))
    assert "at most 128" in error_of(spec(f"  - relu: {{name: {'a' * 129}}}\n"))


def test_layer_names_have_no_spaces_or_empty_parts_but_the_spec_name_may():
    assert "contains a space" in error_of(spec("  - relu: {name: a b}\n"))
    for dotted in ("a..b", ".a", "a."):  # a flat dotted path (features.0, as import torch writes) has words
        assert "has an empty part" in error_of(spec(f"  - relu: {{name: '{dotted}'}}\n"))
    assert analyze(parse_spec(spec("  - relu: {name: features.0}\n"), "t.yaml")).layers[0].name == "features.0"
    assert "separates the levels" in error_of("input: [4]\nblocks: {a.b: {layers: [relu]}}\nlayers: [relu]\n")
    report = analyze(parse_spec("name: ResNet 50 v1.5\n" + spec("  - relu\n"), "t.yaml"))
    assert report.name == "ResNet 50 v1.5"


@pytest.mark.parametrize(
    "text, where",
    [
        ('name: "a\\x1bb"\ninput: [4]\nlayers: [relu]\n', "t.yaml:1:7: the spec's name"),
        ('inputs: {"a\\nb": [4]}\nlayers: [relu]\n', "t.yaml:1:10: input name"),
        ('input: [4]\nblocks: {"b\\u2028": {layers: [relu]}}\nlayers: [relu]\n', "t.yaml:2:10: block name"),
    ],
)
def test_other_names_are_restricted_too(text, where):
    assert error_of(text).startswith(where)


def test_hierarchical_name_length_edge(monkeypatch):
    monkeypatch.setattr("paramcalc.expansion.state.MAX_FULL_NAME", 9)
    text = "input: [4]\nlayers:\n  - layers: [{relu: {name: {n}}}]\n    name: grp\n"
    analyze(parse_spec(text.replace("{n}", "abcde"), "t.yaml"))  # grp.abcde: 9 characters
    assert "at most 9" in error_of(text.replace("{n}", "abcdef"))  # grp.abcdef: 10


# ------------------------------------------------------------------ the ${...} evaluator


def ev(text, env=None):
    return expressions.evaluate(text, env or {}, LOC, ())


def refused(text, env=None) -> str:
    with pytest.raises(SpecError) as e:
        ev(text, env)
    assert e.value.loc == LOC
    return str(e.value)


def test_integers_stay_below_10_to_the_18():
    assert ev("999999999999999999") == 10**18 - 1
    assert "beyond ±10^18" in refused("999999999999999999 + 1")
    assert "beyond ±10^18" in refused("-999999999999999999 - 1")
    assert "beyond ±10^18" in refused("w * w", {"w": 10**10})


def test_exponents_are_checked_before_computing():
    assert ev("2**59") == 2**59
    assert "power" in refused("9**9**9") and "power" in refused("2**61")
    assert ev("2**-1") == 0.5


def test_no_big_repetition():
    assert len(ev("'a' * 1000")) == 1000
    assert "more than 1,000" in refused("'a' * 1001")
    assert "more than 1,000" in refused("[1] * 10**9")


def test_expression_size_and_depth_edges():
    assert ev("-" * 30 + "1") == 1  # 32 levels with the constant and the body
    assert "deeper than 32" in refused("-" * 32 + "1")
    assert len(ev("[" + ", ".join(["1"] * 198) + "]")) == 198  # 200 nodes: the list, its context, the items
    assert "more than 200" in refused("[" + ", ".join(["1"] * 199) + "]")
    assert "1,001 characters" in refused("1" + " " * 999 + "1")


@pytest.mark.parametrize(
    "text, words",
    [
        ("~1", "only arithmetic"),
        ("1 + 'a'", "an integer + a string"),
        ("min()", "min() of nothing"),
        ("int('x')", "int() of a string"),
        ("1 / 0", "divides by zero"),
        ("(1 < 2) < 'a'", "compare a boolean"),
        ("x", "not an argument"),
        ("-'a'", "negate a string"),
        ("1e400", "beyond"),
        ("max(key=1)", "named arguments"),
    ],
)
def test_every_failure_is_a_message_in_spec_terms(text, words):
    message = refused(text)
    assert words in message and "Error" not in message and "'str'" not in message


def test_inline_layers_have_the_same_limits():
    result = run_cli("analyze", "-i", "3x8x8", "-l", "conv2d(4, kernel=" + "[" * 40 + "1" + "]" * 40 + ")")
    assert result.returncode == 2 and "nests deeper than 32" in result.stderr
    result = run_cli("analyze", "-i", "3x8x8", "-l", "conv2d(" + "9" * 5000 + ")")
    assert result.returncode == 2 and "at most 1,000" in result.stderr and len(result.stderr) < 400
    assert run_cli("analyze", "-i", "3x8x8", "-l", "conv2d(-'a')").returncode == 2


# ------------------------------------------------------------------ expansion


def test_skipped_layers_count_toward_the_work_budget(monkeypatch):
    monkeypatch.setattr("paramcalc.expansion.state.MAX_WORK", 14)
    text = "input: [4]\nlayers:\n  - relu\n  - repeat: {n}\n    layers:\n      - relu: {when: false}\n"
    analyze(parse_spec(text.replace("{n}", "6"), "t.yaml"))  # 2 entries + 6 × (a repetition + its entry) = 14
    assert "more than 14 steps" in error_of(text.replace("{n}", "7"))


def test_a_billion_skipped_repeats_are_refused_at_once():
    message = error_of(
        "input: [4]\nlayers:\n  - relu\n  - repeat: 1000000000\n    layers:\n      - relu: {when: false}\n"
    )
    assert "500,000 steps" in message


def chained_blocks(n: int) -> str:
    blocks = "".join(f"  b{i}: {{layers: [b{i + 1}]}}\n" for i in range(n - 1)) + f"  b{n - 1}: {{layers: [relu]}}\n"
    return "input: [4]\nblocks:\n" + blocks + "layers: [b0]\n"


def test_nesting_edge():
    assert len(analyze(parse_spec(chained_blocks(32), "t.yaml")).layers) == 1
    assert "more than 32 deep" in error_of(chained_blocks(33))
    assert "more than 32 deep" in error_of(chained_blocks(400))  # was a RecursionError


def test_a_spec_of_100000_layers_is_still_analysed():
    report = analyze(parse_spec("input: [4]\nlayers:\n  - repeat: 100000\n    relu:\n", "t.yaml"))
    assert len(report.layers) == 100_000


def test_long_names_repeated_cannot_blow_up_the_output(monkeypatch):
    monkeypatch.setattr("paramcalc.expansion.state.MAX_NAME_CHARS", 1000)
    text = f"input: [4]\nlayers:\n  - repeat: {{n}}\n    relu: {{name: {'n' * 100}}}\n"
    analyze(parse_spec(text.replace("{n}", "4"), "t.yaml"))
    assert "more than 1,000 characters" in error_of(text.replace("{n}", "9"))


# ------------------------------------------------------------------ YAML

BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n" for p, c in zip("abcdefgh", "bcdefghi")
)


def test_alias_bomb_refused_at_the_alias():
    with pytest.raises(SpecError, match="more than 1,000,000 values") as e:
        yaml_reader.parse_yaml(BOMB, "b.yaml")
    assert e.value.loc.line == 6  # 10^6 values reached at the sixth line, nothing expanded


def test_value_count_edge(monkeypatch):
    monkeypatch.setattr(yaml_reader, "MAX_VALUES", 5)
    yaml_reader.parse_yaml("a: [1, 2, 3]", "t.yaml")  # mapping + list + 3 = 5
    with pytest.raises(SpecError, match="more than 5 values"):
        yaml_reader.parse_yaml("a: [1, 2, 3, 4]", "t.yaml")
    with pytest.raises(SpecError, match="more than 5 values"):
        yaml_reader.parse_yaml("a: &x [1]\nb: [*x, *x]", "t.yaml")  # 1 + 2 + 1 + 2 × 2 = 8


def test_a_written_out_100000_layer_spec_is_within_the_value_limit():
    text = "input: [3, 8, 8]\nlayers:\n" + "  - conv2d: {out: 8, kernel: 1}\n" * 100_000
    doc = yaml_reader.parse_yaml(text, "big.yaml")
    assert len(doc["layers"]) == 100_000


def test_recursive_alias_and_nesting_edge():
    with pytest.raises(SpecError, match="recursive alias"):
        yaml_reader.parse_yaml("a: &a [*a]", "t.yaml")
    yaml_reader.parse_yaml("[" * 100 + "]" * 100, "t.yaml")
    with pytest.raises(SpecError, match="deeper than 100"):
        yaml_reader.parse_yaml("[" * 101 + "]" * 101, "t.yaml")


@pytest.mark.parametrize(
    "text, words",
    [
        ("a: 2001-02-30", "as a date"),
        ("a: !!int ''", "as an integer"),
        ("a: " + "9" * 4301, "as an integer"),
        ("a: !!timestamp x", "as a date"),
        ("a: !!binary a", "base64"),
        ("a: !!python/object:os.system x", "tag"),
        ("a: !!set {x}", "tag"),
        ("a: *nothing", "names no anchor"),
        ("a: 1\n---\nb: 2", "second one"),
        ("{[a]: 1}", "plain name"),
        ("k" * 129 + ": 1", "keys are names of at most 128"),
    ],
)
def test_yaml_constructor_failures_are_located_messages(text, words):
    with pytest.raises(SpecError) as e:
        yaml_reader.parse_yaml(text, "t.yaml")
    assert words in str(e.value) and str(e.value).startswith("t.yaml:") and len(str(e.value)) < 300


def test_merge_keys_still_work():
    doc = yaml_reader.parse_yaml("base: &b {out: 8, kernel: 3}\nx: {<<: *b, kernel: 5}\n", "t.yaml")
    assert dict(doc["x"]) == {"out": 8, "kernel": 5}


# ------------------------------------------------------------------ files


def test_file_size_edge(tmp_path, monkeypatch):
    path = tmp_path / "big.yaml"
    with open(path, "wb") as f:
        f.truncate(yaml_reader.MAX_BYTES + 1)
    result = run_cli("analyze", str(path))
    assert result.returncode == 2 and "larger than 10 MiB" in result.stderr
    monkeypatch.setattr(yaml_reader, "MAX_BYTES", 30)
    path.write_text("input: [4]\nlayers: [relu]\n")  # 27 bytes
    assert yaml_reader.read_text(str(path))[0].startswith("input")
    path.write_text("input: [4]\nlayers: [relu, relu]\n")
    with pytest.raises(SpecError, match="larger than"):
        yaml_reader.read_text(str(path))


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    result = run_cli("analyze", str(fifo))  # run_cli has a timeout: a block would fail the test
    assert result.returncode == 2 and "named pipe" in result.stderr


@pytest.mark.parametrize(
    "path, words",
    [
        ("/dev/null", "is a device"),
        ("/", "is a directory"),
        ("/tmp/" + "a" * 5000, "cannot read"),
        ("nope.yaml", "no such file"),
    ],
)
def test_paths_that_are_not_specs(path, words):
    result = run_cli("analyze", path)
    assert (result.returncode, result.stdout) == (2, "")
    assert words in result.stderr and result.stderr.count("\n") == 1 and len(result.stderr) < 300


def test_bom_and_crlf_are_fine(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_bytes(b"\xef\xbb\xbfinput: [4]\r\nlayers: [relu]\r\n")
    assert run_cli("analyze", str(path), "-f", "json").returncode == 0


def test_check_survives_symlink_loops_and_keeps_to_its_tree(tmp_path):
    tree = tmp_path / "specs"
    tree.mkdir()
    (tree / "a.yaml").write_text("input: [4]\nlayers: [relu]\n")
    (tree / "loop1").symlink_to(".")
    (tree / "loop2").symlink_to(".")
    secret = tmp_path / ".env"
    secret.write_text("TOKEN=ghp_secret\n")
    (tree / "evil.yaml").symlink_to(secret)
    result = run_cli("check", str(tree))
    assert result.returncode == 2
    assert "2 specs, 1 ok, 1 invalid" in result.stdout and "ghp_secret" not in result.stdout
    assert "outside" in result.stdout and "--follow-symlinks" in result.stdout
    followed = run_cli("check", str(tree), "--follow-symlinks", "-f", "github")
    assert "ghp_secret" not in followed.stdout and "TOKEN" not in followed.stdout


def test_check_caps_the_file_count(tmp_path, monkeypatch):
    from paramcalc import check

    for i in range(4):
        (tmp_path / f"s{i}.yaml").write_text("input: [4]\nlayers: [relu]\n")
    monkeypatch.setattr(check, "MAX_FILES", 4)
    assert [why for _, why in check.expand_paths([str(tmp_path)])] == [None] * 4
    monkeypatch.setattr(check, "MAX_FILES", 3)
    found = check.expand_paths([str(tmp_path)])
    assert len(found) == 4 and "more than 3 spec files" in found[-1][1]


def test_exports_never_replace_a_non_regular_file(tmp_path):
    spec_path = tmp_path / "s.yaml"
    spec_path.write_text("input: [4]\nlayers: [relu]\n")
    os.mkfifo(tmp_path / "fifo.svg")
    (tmp_path / "dir.svg").mkdir()
    for target in (
        str(tmp_path / "dir.svg"),
        str(tmp_path / "fifo.svg"),
    ):  # never /dev/null: a regression run as root would replace it
        result = run_cli("analyze", str(spec_path), "--save-svg", target)
        assert result.returncode == 2 and "not a regular file" in result.stderr
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")
    link = tmp_path / "link.html"
    link.symlink_to(tmp_path / "real.html")
    assert run_cli("analyze", str(spec_path), "--save-html", str(link)).returncode == 2
    out = tmp_path / "out.html"
    assert run_cli("analyze", str(spec_path), "--save-html", str(out)).returncode == 0 and out.is_file()


def test_a_full_device_is_a_one_line_error():
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "paramcalc", "analyze", "specs/lenet5.yaml"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert result.stderr == "error: cannot write the output: No space left on device\n"


def test_a_closed_stdout_is_a_one_line_error():
    result = subprocess.run(
        [sys.executable, "-m", "paramcalc", "analyze", "specs/lenet5.yaml"],
        stdout=None,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        preexec_fn=lambda: os.close(1),
    )
    assert result.returncode == 2
    assert result.stderr == "error: cannot write the output: standard output is closed\n"


def test_a_reader_that_stops_early_ends_it_quietly():
    """`paramcalc ... | head -1`: what the reader no longer takes goes nowhere; exit 0, nothing on
    stderr, the process ending as soon as it has written (the JSON is larger than a pipe holds)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "paramcalc", "analyze", "specs/resnet50.yaml", "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline() == b"{\n"
    proc.stdout.close()
    stderr = proc.stderr.read()
    assert proc.wait(timeout=60) == 0 and stderr == b""


def test_a_terminal_that_is_not_utf8():
    result = run_cli("analyze", "specs/lenet5.yaml", env={**os.environ, "PYTHONIOENCODING": "ascii"})
    assert result.returncode == 0 and "1\\xd732\\xd732" in result.stdout


# ------------------------------------------------------------------ numbers


def test_human_units_never_overflow():
    from paramcalc.render import human

    assert human(10**40) == "10000000000000000000000000000.00 T"
    assert human(138_357_544) == "138.36 M" and human(253_952, "B", binary=True) == "248.0 KiB"


@pytest.mark.parametrize(
    "value, words",
    [
        (".nan", "finite"),
        (".inf", "finite"),
        ("1.0e+400", "finite"),
        ('"1e400"', "optional unit"),
        ("1" + "0" * 30 + "1", "beyond any network"),
        ('"' + "9" * 5000 + '"', "optional unit"),
        ("2.5", "whole number"),
    ],
)
def test_budget_amounts_that_are_not_finite_or_integral_are_refused(value, words):
    result_text = spec("  - relu\n") + f"budget:\n  max_params: {value}\n"
    from paramcalc.budget import spec_budgets

    with pytest.raises(SpecError, match=words):
        spec_budgets(parse_spec(result_text, "t.yaml"))


def test_budget_amount_edges():
    from paramcalc.budget import parse_amount

    assert parse_amount(10**30, "max_params") == 10**30
    with pytest.raises(SpecError):
        parse_amount(10**30 + 1, "max_params")
    assert parse_amount(2.5e7, "max_params") == 25_000_000


def test_a_huge_overrun_is_reported_exactly():
    from paramcalc.budget import Violation

    v = Violation("max_params", 1, 10**25, "flag", None)
    assert v.message.endswith("(999999999999999999999999900.0%)")


def test_sizes_are_bounded_as_pytorch_bounds_them():
    assert "2^63" in error_of(spec("  - relu\n", head=f"input: [{2**62}, 2]\n"))
    analyze(parse_spec(spec("  - relu\n", head=f"input: [{2**62}, 1]\n"), "t.yaml"))
    assert "below 2^63" in error_of(spec(f"  - linear: {2**63}\n"))
    assert "2^63 elements" in error_of(spec(f"  - linear: {2**62}\n", head="input: [4]\n"))


# ------------------------------------------------------------------ output injection, end to end

ATTACK = """name: "[bold]x[/] [link=javascript:alert(1)]y[/link] <img src=x onerror=alert(1)>"
input: [4]
layers:
  - relu: {name: "[/]"}
  - relu: {name: "=cmd|'/c_calc'!A0"}
  - relu: {name: "<img_src=x>`|"}
  - relu: {name: "::error::forged"}
"""


@pytest.fixture
def attack(tmp_path):
    path = tmp_path / "attack.yaml"
    path.write_text(ATTACK)
    return str(path)


def test_markup_is_shown_not_interpreted(attack):
    result = run_cli("analyze", attack)
    assert result.returncode == 0
    assert "[/]" in result.stdout and "[link=javascript:alert(1)]y[/link]" in result.stdout


def test_markdown_output_holds_no_html_and_keeps_its_rows(attack):
    out = run_cli("analyze", attack, "-f", "markdown").stdout
    import re

    assert not re.search(r"(?<!\\)<img", re.sub(r"(`+).*?\1", "", out))
    assert "\\<img src\\=x onerror\\=alert\\(1\\)\\>" in out
    rows = [line for line in out.splitlines() if line.startswith("| ")]
    assert all(len(r.replace("\\|", "").split("|")) == 9 for r in rows)


def test_csv_has_no_formula_cells(attack):
    rows = list(csv.reader(io.StringIO(run_cli("analyze", attack, "-f", "csv").stdout)))
    assert rows[2][1] == "'=cmd|'/c_calc'!A0"
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row[1:4])


def test_html_export_has_no_links_or_tags_from_the_spec(attack, tmp_path):
    out = tmp_path / "a.html"
    assert run_cli("analyze", attack, "--save-html", str(out), "-f", "json").returncode == 0
    html = out.read_text()
    assert "href" not in html and "<img" not in html and "&lt;img" in html


def test_plot_svg_has_no_markup_from_the_spec(attack, tmp_path):
    import xml.etree.ElementTree as ET

    out = tmp_path / "a.svg"
    assert run_cli("memory", attack, "--inference", "--plot", str(out)).returncode == 0
    svg = out.read_text()
    assert "<img" not in svg and "&lt;img src=x onerror=alert(1)&gt;" in svg
    root = ET.fromstring(svg)  # the names are text: the document parses, with no element they made
    assert {e.tag.rpartition("}")[2] for e in root.iter()} <= {
        "svg",
        "title",
        "rect",
        "g",
        "text",
        "line",
        "polygon",
        "circle",
    }
    assert "<img src=x onerror=alert(1)>" in root.find("{http://www.w3.org/2000/svg}title").text


def test_workflow_commands_cannot_be_forged(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text('input: [4]\nlayers:\n  - relu: {"x\\n::error::forged": 1}\n')
    for args in (["check", str(path), "-f", "github"], ["check", str(path)], ["analyze", str(path)]):
        result = run_cli(*args)
        for line in (result.stdout + result.stderr).splitlines():
            assert not line.lstrip().startswith("::") or line.startswith(f"::error file={path},line=3")


def test_no_line_starts_a_workflow_command(tmp_path):
    """A name that starts a line (the table's summary, a diff row) cannot be read as a command:
    GitHub reads them on stdout and stderr, after leading spaces."""
    path = tmp_path / "::error::file.yaml"
    path.write_text('input: [4]\nlayers:\n  - relu: {name: "::warning::x"}\n')
    named = tmp_path / "named.yaml"
    named.write_text('name: "::error::FORGED"\ninput: [4]\nlayers:\n  - relu: {name: "::warning::x"}\n')
    for args in (
        ["analyze", str(path)],
        ["analyze", str(named)],
        ["diff", str(named), str(path), "--all"],
        ["analyze", str(named), "-f", "markdown"],
        ["check", str(tmp_path)],
    ):
        result = run_cli(*args)
        assert result.returncode in (0, 1), result.stderr
        lines = (result.stdout + result.stderr).splitlines()
        assert not [line for line in lines if line.lstrip().startswith("::")]
    assert "\\::error::FORGED: 0 params" in run_cli("analyze", str(named)).stdout


def test_a_file_name_with_control_characters_is_escaped_everywhere(tmp_path):
    path = tmp_path / "s\x1b]0;x\x07.yaml"
    path.write_text("input: [4]\nlayers: [relu]\n")
    for fmt in ("table", "markdown", "csv", "json"):
        out = run_cli("analyze", str(path), "-f", fmt).stdout
        assert "\x1b" not in out and "\x07" not in out
    assert "\x1b" not in run_cli("check", str(tmp_path)).stdout


# ------------------------------------------------------------------ round 3 (issue 23): the new surfaces

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IGNORABLE = "\u034f"  # printable to Python, skipped by the runner's culture-aware search


def invoke(*args):
    """The CLI in this process (typer's runner): stdout, stderr and the exit code."""
    from typer.testing import CliRunner

    from paramcalc.cli import app

    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    return result


def no_workflow_command(text: str) -> bool:
    """No line holds `##[` (anywhere) or starts with `::`, read as the runner reads them."""
    for line in text.replace(IGNORABLE, "").replace("\u200b", "").splitlines():
        if "##[" in line or line.lstrip().startswith("::"):
            return False
    return True


def test_the_older_workflow_command_form_is_broken_anywhere():
    # actions/runner src/Runner.Common/ActionCommand.cs: TryParse finds "##[" anywhere in a line
    # (a culture-aware IndexOf, which skips ignorable characters); TryParseV2 wants "::" first.
    assert escape.workflow_lines("demo ##[set-output name=v;]pass") == "demo ##\\u005bset-output name=v;]pass"
    assert escape.workflow_lines("###[x]") == "###\\u005bx]"
    assert escape.workflow_lines(f"#{IGNORABLE}#[x]") == f"#{IGNORABLE}#\\u005bx]"
    assert escape.workflow_lines(f"{IGNORABLE}::error::x") == f"{IGNORABLE}\\::error::x"
    assert escape.workflow_lines("# [x] #x [") == "# [x] #x ["  # nothing else changes
    import json

    assert json.loads(escape.workflow_anywhere(json.dumps("a ##[error]b"))) == "a ##[error]b"  # JSON keeps it


def test_ascii_text_is_escaped_as_the_full_patterns_escape_it():
    """ASCII text is searched with the ignorable characters that are ASCII (cheaper to compile): the
    same characters, found in the same places, as the full classes find."""
    import re

    from hypothesis import given, settings, strategies as st

    full = [re.compile(p.pattern, p.flags) for p in escape._patterns(escape._IGNORABLE)]
    ascii_ = escape._command_patterns("x")
    ascii_class = re.compile(f"[{escape._ASCII_IGNORABLE}]")
    assert [c for c in map(chr, range(128)) if re.fullmatch(f"[{escape._IGNORABLE}]", c)] == [
        c for c in map(chr, range(128)) if ascii_class.fullmatch(c)
    ]

    @settings(max_examples=500, deadline=None)
    @given(st.text(st.sampled_from(" \t\n\r\x0b\x0c\x1c\x01\x08\x0e\x1f\x7f#:[ax"), max_size=30))
    def same(text):
        assert ascii_[0].sub(r"\1\\:\2:", text) == full[0].sub(r"\1\\:\2:", text)
        assert ascii_[1].sub("#\\1#\\2!", text) == full[1].sub("#\\1#\\2!", text)

    same()


HASH_SPEC = """name: "demo ##[set-output name=verdict;]pass"
input: [3, 8, 8]
layers:
  - conv2d: {out: 4, kernel: 1, name: "c##[add-mask]x"}
  - relu: {name: "r#\u034f#[stop-commands]t"}
  - flatten
  - linear: 2
"""


def test_no_output_of_any_command_holds_a_workflow_command(tmp_path):
    """Every command and format, with a spec's name, a layer's name, a file's name and a message
    saying `##[`; JSON keeps the values."""
    import json

    spec = tmp_path / "a##[error]b.yaml"
    spec.write_text(HASH_SPEC)
    bad = tmp_path / "bad.yaml"
    bad.write_text('input: [4]\nlayers:\n  - "relu ##[error]x"\n')
    runs = [("analyze", spec, "-f", fmt) for fmt in ("table", "json", "csv", "markdown", "mermaid", "dot")]
    runs += [("check", spec), ("check", spec, "-f", "github"), ("check", spec, "-f", "json"), ("check", bad)]
    runs += [("memory", spec), ("memory", spec, "-f", "json"), ("export", spec), ("analyze", bad)]
    runs += [("diff", bad, spec), ("diff", spec, spec, "--all", "-f", "md"), ("diff", spec, spec, "-f", "json")]
    for args in runs:
        result = invoke(*args)
        assert result.exit_code in (0, 1, 2), args
        assert no_workflow_command(result.stdout + result.stderr), (args, result.stdout + result.stderr)
    assert "unknown layer kind 'relu ##\\u005berror]x'" in invoke("analyze", bad).stderr
    report = json.loads(invoke("analyze", spec, "-f", "json").stdout)
    assert report["name"] == "demo ##[set-output name=verdict;]pass"
    assert [row["name"] for row in report["layers"]][:2] == ["c##[add-mask]x", "r#\u034f#[stop-commands]t"]


def test_python_m_paramcalc_imports_nothing_from_the_working_directory(tmp_path):
    for name in ("yaml", "typer", "rich"):
        (tmp_path / f"{name}.py").write_text("raise SystemExit('the working directory was imported')\n")
    (tmp_path / "s.yaml").write_text("input: [4]\nlayers: [relu]\n")
    env = {**os.environ, "PYTHONPATH": ROOT}
    result = subprocess.run(
        [sys.executable, "-m", "paramcalc", "analyze", "s.yaml", "-f", "json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and "working directory" not in result.stderr, result.stderr


def test_installed_only_takes_the_working_directory_off_sys_path(tmp_path, monkeypatch):
    from paramcalc import factory

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", ["", ".", str(tmp_path), "/usr/lib/python3/site", "src"])
    with factory.installed_only():
        assert sys.path == ["/usr/lib/python3/site", "src"]
    assert sys.path == ["", ".", str(tmp_path), "/usr/lib/python3/site", "src"]
    assert factory.is_path("models.py") and factory.is_path("./m") and not factory.is_path("torchvision.models")


LOCAL_MODEL = """import pathlib
import torch

pathlib.Path("RAN").write_text("the working directory's module ran")


def build():
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), torch.nn.ReLU())
"""


def test_a_dotted_module_never_runs_from_the_working_directory_a_path_does(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "localmodels.py").write_text(LOCAL_MODEL)
    (tmp_path / "torchvision").mkdir()
    (tmp_path / "torchvision" / "__init__.py").write_text(LOCAL_MODEL)
    (tmp_path / "s.yaml").write_text("input: [3, 8, 8]\nlayers:\n  - conv2d: {out: 4, kernel: 1, name: '0'}\n")
    for target in ("localmodels:build", "torchvision.models:resnet18"):
        for args in (("verify", "s.yaml", target), ("import", "torch", target, "-i", "3x8x8")):
            result = run_cli(*args, env={**os.environ, "PYTHONPATH": ROOT})
            assert result.returncode == 2 and not (tmp_path / "RAN").exists(), result.stderr
    hinted = run_cli("verify", "s.yaml", "localmodels:build", env={**os.environ, "PYTHONPATH": ROOT}).stderr
    assert "named as a path: localmodels.py" in hinted
    named = invoke("verify", "s.yaml", "./localmodels.py:build")
    assert named.exit_code == 0 and (tmp_path / "RAN").exists(), named.stdout + named.stderr


def test_verify_runs_a_huge_input_on_the_meta_device(tmp_path, monkeypatch):
    """An input of 3x50000x50000 (30 GB of float32) is compared without being allocated."""
    pytest.importorskip("torch")
    import resource

    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.py").write_text(LOCAL_MODEL)
    (tmp_path / "s.yaml").write_text(
        "input: [3, 50000, 50000]\nlayers:\n  - conv2d: {out: 4, kernel: 1, name: '0'}\n  - relu: {name: '1'}\n"
    )

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))

    result = subprocess.run(
        [sys.executable, "-m", "paramcalc", "verify", "s.yaml", "m.py:build"],
        env={**os.environ, "PYTHONPATH": ROOT},
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=limit,
    )
    assert result.returncode == 0 and result.stdout.startswith("ok: "), result.stderr


def test_allocation_failures_are_exit_2(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    from paramcalc import verify

    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.py").write_text(LOCAL_MODEL)
    (tmp_path / "s.yaml").write_text("input: [3, 8, 8]\nlayers:\n  - conv2d: {out: 4, kernel: 1, name: '0'}\n")

    def refuse(*args, **kwargs):
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 30000000000 bytes")

    monkeypatch.setattr(verify, "MAX_REAL_INPUT", 2**62)
    monkeypatch.setattr(torch, "randn", refuse)
    result = invoke("verify", "s.yaml", "m.py:build")
    assert result.exit_code == 2 and result.stderr.startswith("error: ") and "allocate" in result.stderr


@pytest.mark.parametrize("error", [MemoryError, RecursionError])
def test_memory_and_recursion_errors_anywhere_are_exit_2(monkeypatch, error):
    import paramcalc

    def fail(*args, **kwargs):
        raise error()

    monkeypatch.setattr(paramcalc, "load_spec", fail)
    result = invoke("analyze", "specs/lenet5.yaml")
    assert result.exit_code == 2 and result.stdout == "" and result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: ") and ("memory" in result.stderr or "nests" in result.stderr)


@pytest.mark.parametrize(
    "text, value",
    [
        ("round(4, -10**17)", 0),  # would compute 10**(10**17)
        ("round(1555, -2)", 1600),
        ("round(7, -40)", 0),
        ("'%5d' % w", "    8"),
        ("'%%d' % []", "%d"),
        ("[0] * 1000", [0] * 1000),
    ],
)
def test_expressions_bounded_before_they_compute_still_compute(text, value):
    assert expressions.evaluate(text, {"w": 8}, LOC, ()) == value


@pytest.mark.parametrize(
    "text, words",
    [
        ("'%1000000000d' % w", "width or precision of 1000000000"),
        ("'%1001d' % w", "width or precision of 1001"),
        ("'%.5000f' % 1.5", "width or precision of 5000"),
        ("'%*d' % [10**9, w]", "width or precision of *"),
        ("[[[]] * 1000] * 1000", "more than 1,000 items"),
        ("[[0] * 999] * 2", "more than 1,000 items"),
        ("'%s' % [[1] * 500]", "string longer than 1,000"),
    ],
)
def test_expressions_that_cost_more_than_their_operands_are_refused(text, words):
    import time

    start = time.perf_counter()
    with pytest.raises(SpecError, match=words.replace("*", r"\*")):
        expressions.evaluate(text, {"w": 8}, LOC, ())
    assert time.perf_counter() - start < 1


def test_a_bare_argument_substitutes_as_its_expression_evaluates():
    """`$name` reads an argument without evaluating an expression where the value is an int or a
    string within the bounds; every value gives what evaluating the name gives, or the same error."""
    from hypothesis import given, settings, strategies as st

    def outcome(call):
        try:
            return ("value", call())
        except SpecError as e:
            return ("error", str(e))

    edge = st.sampled_from([10**18 - 1, 10**18, -(10**18) + 1, -(10**18), 1000, 1001])
    values = st.one_of(
        st.integers(),
        edge,
        st.booleans(),
        st.none(),
        st.floats(allow_nan=False),
        st.text(max_size=1100),
        st.sampled_from(["a" * 1000, "a" * 1001]),
        st.lists(st.integers(), max_size=3),
    )

    @settings(max_examples=300, deadline=None)
    @given(st.sampled_from(["x", "true", "null", "missing"]), values)
    def same(name, value):
        env = {"x": value, "true": value}
        fast = outcome(lambda: expressions.substitute(f"${name}", env, LOC, ()))
        assert fast == outcome(lambda: expressions.evaluate(name, env, LOC, ()))
        assert type(fast[1]) is type(outcome(lambda: expressions.evaluate(name, env, LOC, ()))[1])

    same()


def test_mermaid_has_no_directive_or_comment_from_a_spec():
    from paramcalc.render.mermaid import render_mermaid

    report = analyze(
        parse_spec(
            "name: \"x %%{init: {'securityLevel': 'loose'}}%%\"\ninput: [4]\nlayers:\n"
            "  - relu: {name: \"%%{init:{'theme':'dark'}}%%\"}\n",
            "t.yaml",
        )
    )
    out = render_mermaid(report)
    assert "%" not in out
    assert "#37;#37;{init:{'theme':'dark'}}#37;#37;" in out  # an entity, which Mermaid shows as %
    assert 'title: "x \\u0025\\u0025{init:' in out  # a YAML escape, which the title decodes


def test_markdown_mentions_nobody_and_a_pipe_cannot_end_a_code_span():
    import re

    assert escape.markdown("@octocat and @org/team") == "`@`octocat and `@`org/team"
    # GFM reads `\\` as an escaped backslash, so `\\|` would end the cell: a backslash run before a
    # pipe is doubled, leaving the pipe escaped
    assert escape.markdown_code("a\\|<img/src=x>") == "`a\\\\\\|<img/src=x>`"
    report = analyze(parse_spec('name: "@octocat"\ninput: [4]\nlayers:\n  - relu: {name: "@org/team"}\n', "t"))
    from paramcalc.render.markdown import render_markdown

    out = render_markdown(report)
    assert not re.search(r"(?<![\w`\\])@[a-z]", re.sub(r"(`+).*?\1", "", out))


def test_diff_markdown_holds_no_raw_html(tmp_path):
    import re

    old, new = tmp_path / "o.yaml", tmp_path / "n.yaml"
    old.write_text('input: [4]\nlayers:\n  - relu: {name: "a\\\\|<img/src=x/onerror=alert(1)>"}\n')
    new.write_text('input: [4]\nlayers:\n  - linear: {out: 4, name: "a\\\\|<img/src=x/onerror=alert(1)>"}\n')
    out = invoke("diff", old, new, "-f", "md").stdout
    for row in (line for line in out.splitlines() if line.startswith("| ~")):
        cells = re.split(r"(?<!\\)\|", re.sub(r"\\\\", "", row))  # GFM's split: escaped backslashes first
        assert len(cells) == 9 and "<img" not in re.sub(r"(`+).*?\1", "", row)


def hf_config(tmp_path, text: str) -> str:
    path = tmp_path / "config.json"
    path.write_text(text)
    return str(path)


LLAMA = '{"model_type": "llama", "hidden_size": 64, "num_attention_heads": 4, "num_hidden_layers": 1, '
LLAMA += '"intermediate_size": 128, "vocab_size": 100'


@pytest.mark.parametrize(
    "text, words",
    [
        ('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}", "nests deeper than 32 levels"),
        ('{"a": ' + "[" * 33 + "]" * 33 + "}", "nests deeper than 32 levels"),
        ('{"vocab_size": ' + "9" * 5000 + "}", "an integer of 5,000 digits"),
        ('{"model_type": "llama", "rms_norm_eps": NaN}', "NaN is not JSON"),
        (LLAMA + ', "rms_norm_eps": 1e999}', "'rms_norm_eps' expects a finite number, found inf"),
        (LLAMA + ', "rms_norm_eps": 0}', "'rms_norm_eps' expects a number above 0 up to 1"),
        (LLAMA + ', "hidden_act": ["silu"]}', "'hidden_act' expects a name (a short string), found ['silu']"),
        ('{"model_type": {"a": 1}}', "'model_type' expects a name (a short string), found a mapping"),
        (LLAMA.replace('"hidden_size": 64', '"hidden_size": 65') + "}", "is not a multiple of the number of"),
        (LLAMA + ', "vocab_size": 1000000000000}', "'vocab_size' expects a positive integer up to 16,777,216"),
        (LLAMA + ', "intermediate_size": 1000000000000000}', "'intermediate_size' expects a positive integer up to"),
        (LLAMA + ', "max_position_embeddings": 1000000000000}', "'max_position_embeddings' expects a positive"),
        (LLAMA + ', "tie_word_embeddings": "yes"}', "'tie_word_embeddings' expects true or false"),
        ('{"model_type": "llama",\n "x": ,}', "config.json:2:7: not JSON"),
    ],
)
def test_hostile_hf_configs_are_one_message(tmp_path, text, words):
    from paramcalc.importers.hf import import_hf

    with pytest.raises(SpecError) as e:
        import_hf(hf_config(tmp_path, text))
    assert words in str(e.value)


def test_hf_config_edges_still_import(tmp_path):
    from paramcalc.importers.hf import import_hf

    head_dim = LLAMA.replace('"hidden_size": 64', '"hidden_size": 65') + ', "head_dim": 16}'
    for text in (LLAMA + "}", head_dim, '{"a": ' + "[" * 31 + "]" * 31 + ", " + LLAMA[1:] + "}"):
        assert "name: llama" in import_hf(hf_config(tmp_path, text), 16)
    with pytest.raises(SpecError, match="--seq 16,777,217 is above the limit"):
        import_hf(hf_config(tmp_path, LLAMA + "}"), 2**24 + 1)


def test_a_huge_hf_config_is_refused_before_it_is_read(tmp_path, monkeypatch):
    from paramcalc.importers import hf_config as reader
    from paramcalc.importers.hf import import_hf

    path = tmp_path / "config.json"
    with open(path, "wb") as f:
        f.truncate(2**30)  # sparse: 1 GiB that takes no disk

    def no_read(*args):
        raise AssertionError("read before its size was checked")

    monkeypatch.setattr(reader.os, "read", no_read)
    with pytest.raises(SpecError, match="1,073,741,824 bytes, larger than 1 MiB"):
        import_hf(str(path))
    result = invoke("import", "hf", tmp_path)
    assert result.exit_code == 2 and "is not a file (a directory)" in result.stderr


def test_a_list_used_as_a_layer_is_a_located_message():
    text = "input: [4]\nblocks:\n  b:\n    args: {act: [relu]}\n    layers:\n      - $act\nlayers:\n  - b\n"
    assert error_of(text).startswith("t.yaml:6:9: a layer's kind is a name, found ['relu'] (a list)")


@pytest.mark.parametrize("scale", [".nan", ".inf", "-.inf", "[1, .nan]", "0", "-2"])
def test_upsample_scales_that_are_not_positive_and_finite_are_refused(scale):
    message = error_of(spec(f"  - upsample: {{scale: {scale}}}\n", head="input: [3, 8, 8]\n"))
    assert "field 'scale' expects positive finite numbers" in message and message.startswith("t.yaml:3:")


def test_bytes_that_are_not_text_are_located(tmp_path):
    for data, words in (
        (b"input: [3]\nname: caf\xe9\n", ":2:10: byte 0xe9"),
        (b"input: [3]\nna\0me: x\n", ":2:3: a NUL"),
    ):
        path = tmp_path / "s.yaml"
        path.write_bytes(data)
        result = invoke("analyze", path)
        assert result.exit_code == 2 and f"{path}{words}" in result.stderr


def test_usage_errors_echo_file_names_escaped(tmp_path):
    """`paramcalc analyze specs/*.yaml` with two files: the usage error names the second, which a
    pull request chose."""
    spec = tmp_path / "s.yaml"
    spec.write_text("input: [4]\nlayers: [relu]\n")
    result = invoke("analyze", spec, tmp_path / "x ##[error]forged.yaml")
    assert result.exit_code == 2 and "x ##\\u005berror]forged.yaml" in result.stderr
    assert no_workflow_command(result.stdout + result.stderr)
