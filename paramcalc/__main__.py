import os
import sys

# `python -m` puts the working directory first on sys.path, where a pull request could place a
# `torchvision/` or `yaml.py` of its own: it goes before anything else is imported (paramcalc's own
# modules are found through the package, already imported). A module of the working directory is
# run only when named as a path (`verify spec.yaml models.py:build`).
try:
    _here = os.getcwd()
except OSError:  # the working directory was removed
    _here = ""
sys.path[:] = [p for p in sys.path if p not in ("", ".", _here)]

from .cli import run  # noqa: E402

run()
