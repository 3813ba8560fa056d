"""The table as a terminal shows it, tested the way rich tests itself: a fixed-width screen with
colour off, compared with golden text committed in tests/golden/ (read and checked by eye when
written; `PARAMCALC_REGOLD=1 pytest tests/test_table.py` rewrites them after a deliberate change).
Beside the goldens, properties that hold at any width: no number is ever cut, no line is wider
than the screen when the table can fit, and spec text is never read as markup."""

import os
import re
from pathlib import Path

import pytest

from paramcalc import analyze, load_spec, parse_spec
from paramcalc.errors import SpecError
from paramcalc.render import visible_rows
from paramcalc.render.table import Column, Screen, cut_left, default_columns, pick_columns, render_table, report_lines

ROOT = Path(__file__).parent.parent
GOLDEN = Path(__file__).parent / "golden"
FROZEN = """name: frozen_head
input: [3, 32, 32]
layers:
  - conv2d: {out: 16, kernel: 3, padding: 1, name: stem, freeze: true}
  - batchnorm2d: {name: stem_bn, freeze: true}
  - relu
  - adaptiveavgpool2d: 1
  - flatten
  - linear: {out: 10, name: head}
"""
CASES = {
    "lenet5": (lambda: analyze(load_spec(str(ROOT / "specs" / "lenet5.yaml"))), None),
    "resnet50_depth1": (lambda: analyze(load_spec(str(ROOT / "specs" / "resnet50.yaml"))), 1),
    "gpt2": (lambda: analyze(load_spec(str(ROOT / "specs" / "gpt2.yaml"))), None),
    "frozen": (lambda: analyze(parse_spec(FROZEN, "frozen.yaml")), None),
}
WIDTHS = (40, 80, 120)


def terminal(width):
    return Screen(width=width, color=False, boxed=True)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("case", CASES)
def test_golden(case, width):
    build, depth = CASES[case]
    text = render_table(build(), depth, terminal(width))
    path = GOLDEN / f"{case}_{width}.txt"
    if os.environ.get("PARAMCALC_REGOLD"):
        path.write_text(text)
    assert text == path.read_text()


def _numbers(text):
    return set(re.findall(r"\d[\d,]*\d|\d", text))


@pytest.mark.parametrize("width", (40, 60, 80, 100, 120, 200))
@pytest.mark.parametrize(
    "spec, depth",
    [("resnet50", None), ("resnet50", 2), ("gpt2", None), ("unet", None), ("efficientnet_b0", 3), ("vit_b_16", None)],
)
def test_no_number_is_cut_and_lines_fit(spec, depth, width):
    report = analyze(load_spec(str(ROOT / "specs" / f"{spec}.yaml")))
    text = render_table(report, depth, terminal(width))
    shown = _numbers(text)
    for row in visible_rows(report, depth):
        assert f"{row.params:,}" in shown and f"{row.macs:,}" in shown, row.name
    assert f"{report.totals.params:,}" in shown and f"{report.totals.macs:,}" in shown
    lines = text.splitlines()
    table = lines[1 : next(i for i, line in enumerate(lines) if line.startswith("╰")) + 1]
    if max(len(line) for line in table) > width:  # too narrow for the numbers themselves
        assert table[1].replace("│", " ").split() == ["name", "output", "params", "MACs"]


def test_narrow_terminal_says_what_it_hid_and_wide_shows_everything():
    report = analyze(load_spec(str(ROOT / "specs" / "resnet50.yaml")))
    narrow = render_table(report, None, terminal(80))
    assert "hidden to fit: kind, input, weights, bias, buffers (--wide shows all)" in narrow
    assert "layer1.0.downsample.0" in narrow
    wide = render_table(report, None, terminal(80), wide=True)
    assert "hidden" not in wide and "layer1.0.downsample.0" in wide and "buffers" in wide


def test_piped_table_is_full_and_never_fitted():
    report = analyze(load_spec(str(ROOT / "specs" / "resnet50.yaml")))
    piped = render_table(report, None, Screen())
    assert "weights" in piped and "hidden" not in piped and "…" not in piped


def test_columns_pick_and_order():
    report = analyze(load_spec(str(ROOT / "specs" / "lenet5.yaml")))
    cols = pick_columns(default_columns(report), ["name", "OUTPUT", "params", "MACs"])
    lines = render_table(report, None, Screen(), columns=cols).splitlines()
    assert lines[0].split() == ["name", "output", "params", "MACs"]
    assert lines[2].split() == ["conv2d_1", "6×28×28", "156", "117,600"]
    with pytest.raises(SpecError, match="did you mean 'params'"):
        pick_columns(default_columns(report), ["parms"])


def test_a_column_plugs_in_without_layout_code():
    report = analyze(load_spec(str(ROOT / "specs" / "lenet5.yaml")))
    columns = default_columns(report)
    columns.insert(
        -1,
        Column(
            "double",
            "2×params",
            lambda row: f"{2 * row.params:,}",
            lambda rep: f"{2 * rep.totals.params:,}",
            align="right",
            drop=3,
        ),
    )
    text = render_table(report, None, Screen(), columns=columns)
    assert "2×params" in text.splitlines()[0] and "123,412" in text
    narrow = render_table(report, None, terminal(70), columns=columns)
    assert "2×params" not in narrow.splitlines()[2] and "hidden to fit: input, weights, bias, 2×params" in narrow


def test_spec_text_is_never_markup(monkeypatch):
    monkeypatch.setenv("TERM", "xterm")
    spec = parse_spec(
        "name: '[bold red]x[/]'\ninput: [4]\nlayers:\n  - linear: {out: 2, name: '[link=http://e]y'}\n", "m.yaml"
    )
    report = analyze(spec)
    for screen in (Screen(), terminal(120), Screen(width=120, color=True, boxed=True)):
        text = render_table(report, None, screen)
        assert "[bold red]x[/]" in text and "[link=http://e]y" in text


def test_cut_left_keeps_the_leaf():
    assert cut_left("layer1.0.downsample.0", 12) == "…ownsample.0"
    assert cut_left("  layer1.0 …", 9) == "  …r1.0 …"
    assert cut_left("short", 10) == "short"


def test_coloured_lines_are_styled_not_laid_out_by_rich(monkeypatch):
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.delenv("NO_COLOR", raising=False)
    report = analyze(load_spec(str(ROOT / "specs" / "lenet5.yaml")))
    coloured = render_table(report, None, Screen(width=120, color=True, boxed=True))
    plain = render_table(report, None, terminal(120))
    assert "\x1b[" in coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain
    lines = report_lines(report, None, Screen())
    assert all(isinstance(line, str) for line in lines)


def _in_terminal(args, columns, extra_env=None):
    """The real CLI with its stdout on a pseudo-terminal `columns` wide."""
    import pty
    import subprocess
    import sys

    leader, follower = pty.openpty()
    import fcntl
    import struct
    import termios

    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))  # the window's size
    env = {key: value for key, value in os.environ.items() if key != "NO_COLOR"}
    env.update({"COLUMNS": str(columns), "LINES": "50", "TERM": "xterm", **(extra_env or {})})
    proc = subprocess.Popen(
        [sys.executable, "-m", "paramcalc", *args], stdout=follower, stderr=subprocess.PIPE, env=env, cwd=ROOT
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_a_real_terminal_gets_a_fitted_coloured_table():
    out = _in_terminal(["analyze", "specs/resnet50.yaml", "--depth", "1"], 72)
    assert "\x1b[" in out
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out)
    assert all(len(line) <= 72 for line in plain.splitlines())
    assert "25,557,032" in plain and "hidden to fit: kind, input, weights, bias, buffers" in plain
    no_color = _in_terminal(["analyze", "specs/resnet50.yaml", "--depth", "1"], 72, {"NO_COLOR": "1"})
    assert "\x1b[" not in no_color and "╭" not in no_color and "layer1 …" in no_color
    assert all(len(line) <= 72 for line in no_color.splitlines())


def test_piped_table_does_not_import_rich():
    import subprocess
    import sys

    code = (
        "import sys; from paramcalc.cli import app\n"
        "try: app(['analyze', 'specs/lenet5.yaml'])\nexcept SystemExit: pass\n"
        "sys.stderr.write(str('rich' in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert "conv2d_1" in result.stdout and result.stderr.strip().endswith("False")


@pytest.mark.parametrize(
    "option, headers",
    [
        ("--rf", ["RF", "stride", "start"]),
        ("--memory", ["activation", "saved"]),
        ("--share", ["params share", "MACs share"]),
    ],
)
@pytest.mark.parametrize("spec, depth", [("resnet18", ["--depth", "1"]), ("resnet50", []), ("gpt2", [])])
def test_columns_an_option_adds_stay_in_an_80_column_terminal(option, headers, spec, depth):
    """What the user asked for stays; the standard columns give way (input first, params last)."""
    # the width the window has (COLUMNS unset), as a terminal emulator sets it
    shown = _in_terminal(["analyze", f"specs/{spec}.yaml", option, *depth], 80, {"COLUMNS": "", "LINES": ""})
    out = re.sub(r"\x1b\[[0-9;]*m", "", shown)
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("│"))
    assert [h.strip() for h in header.strip("│").split("│")][-len(headers) :] == headers
    note = next(line for line in lines if line.startswith("hidden to fit: "))
    assert not any(h in note.split(": ", 1)[1].split(" (")[0].split(", ") for h in headers)
    assert all(len(line) <= 80 for line in lines[: lines.index(note)])


def test_columns_an_option_adds_can_be_picked_by_name():
    report = analyze(load_spec(str(ROOT / "specs" / "lenet5.yaml")))
    from paramcalc.render.table import extra_columns

    offered = default_columns(report) + extra_columns(report, True, True, True)
    cols = pick_columns(offered, ["name", "rf", "rf_stride", "macs_share", "saved"])
    lines = render_table(report, None, Screen(), columns=cols).splitlines()
    assert lines[0].split() == ["name", "RF", "stride", "MACs", "share", "saved"]
    assert lines[2].split()[:3] == ["conv2d_1", "5×5", "1×1"]
