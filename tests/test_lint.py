"""The linter, the formatter's check and the type checker pass on the tree (configured in pyproject.toml)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def tool(name: str) -> list[str]:
    """How to run a tool: its module under this python (as pip installs it from the test extra), else on PATH."""
    probe = subprocess.run([sys.executable, "-m", name, "--version"], capture_output=True)
    if probe.returncode == 0:
        return [sys.executable, "-m", name]
    if shutil.which(name):
        return [name]
    pytest.skip(f"{name} is not installed (pip install -e '.[test]')")


@pytest.mark.parametrize(
    "command",
    [["ruff", "check", "."], ["ruff", "format", "--check", "."], ["mypy"]],
    ids=["ruff check", "ruff format --check", "mypy"],
)
def test_tool_passes(command):
    done = subprocess.run(tool(command[0]) + command[1:], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"`{' '.join(command)}` failed:\n{done.stdout}{done.stderr}"
