"""README.md stays true: its tour output is what the program prints, its set-up commands are the
ones .ci/run runs."""

import re
from pathlib import Path

import pytest
from helpers import run_cli

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()
# commands piped through jq are checked by test_cli (the vgg16 JSON test)
SHOWN = [(c, out) for c, out in re.findall(r"```\n\$ (paramcalc [^\n]*)\n(.*?)```", README, re.S) if "|" not in c]


@pytest.mark.parametrize("command, shown", SHOWN, ids=[c for c, _ in SHOWN])
def test_tour_output_is_real(command, shown):
    args = command.split()[1:]
    result = run_cli(*args, env=None)
    if "..." in shown:  # an excerpt: every shown line must be printed
        for line in shown.splitlines():
            if line != "...":
                assert line in result.stdout.splitlines()
    else:
        assert result.stdout == shown


def test_two_setup_commands_and_ci():
    blocks = re.findall(r"```\n(pip install [^\n]*)\n```", README)
    assert blocks == [
        "pip install . && paramcalc analyze specs/resnet50.yaml",
        "pip install -e '.[test]' && python -m pytest",
    ]
    assert blocks[1] in (ROOT / ".ci" / "run").read_text()


def test_narrow_terminal_example_is_real():
    from paramcalc import analyze, load_spec
    from paramcalc.render.table import Screen, render_table

    shown = re.search(r"In a 72-column terminal\n\(colours aside\):\n\n```text\n(.*?)```", README, re.S).group(1)
    report = analyze(load_spec(str(ROOT / "specs" / "resnet50.yaml")))
    text = render_table(report, 1, Screen(width=72, color=False, boxed=True))
    assert shown == "".join(line.rstrip() + "\n" for line in text.splitlines())
