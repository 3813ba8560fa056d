"""The pre-commit set-ups README.md gives work as written: its `repo: local` configuration, and this
repository's .pre-commit-hooks.yaml through `pre-commit try-repo`. Offline: pre-commit's
environment installs paramcalc from this checkout, its dependencies from the running Python's
site-packages (no index), built with the setuptools already installed."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pre_commit", reason="pre-commit is a test extra")
ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()


@pytest.fixture
def project(tmp_path):
    """A git repository with a spec under budget, one over it, and a YAML file outside specs/."""
    repo = tmp_path / "project"
    (repo / "specs").mkdir(parents=True)
    shutil.copy(ROOT / "specs" / "lenet5.yaml", repo / "specs")
    shutil.copy(ROOT / "specs" / "alexnet.yaml", repo / "specs")
    (repo / "other.yaml").write_text("not: a spec\n")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    return repo


def _pre_commit(args, cwd, home):
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(home),
        "VIRTUALENV_SYSTEM_SITE_PACKAGES": "1",  # typer, rich, pyyaml as installed here
        "PIP_NO_INDEX": "1",
        "PIP_NO_BUILD_ISOLATION": "0",  # (sic) pip reads 0 as: build with the installed setuptools
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def test_readme_local_configuration_works_as_written(project, tmp_path):
    config = re.search(r"```yaml\n(repos:\n  - repo: local\n.*?)```", README, re.S).group(1)
    url = "git+https://github.com/YOUR-ORG/paramcalc"
    assert url in config
    (project / ".pre-commit-config.yaml").write_text(config.replace(url, ROOT.as_uri()))
    result = _pre_commit(["run", "--all-files", "--verbose"], project, tmp_path / "home")
    out = result.stdout
    assert result.returncode == 1, out + result.stderr  # alexnet is over the README's 30M
    assert "paramcalc check" in out and "Failed" in out
    assert "FAIL     specs/alexnet.yaml: params 61,100,840 exceed max_params 30,000,000" in out
    assert "ok       specs/lenet5.yaml: 61.71 K params" in out and "other.yaml" not in out


def test_hooks_file_through_try_repo(project, tmp_path):
    result = _pre_commit(["try-repo", str(ROOT), "paramcalc-check", "--all-files", "--verbose"], project, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok       specs/alexnet.yaml" in result.stdout and "2 specs, 2 ok" in result.stdout
