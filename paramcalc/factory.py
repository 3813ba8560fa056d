"""MODULE:FACTORY -> the torch model it builds (`verify` and `import torch`).

The working directory is untrusted (a pull request may add a `torchvision/` folder to it), so a
dotted MODULE is imported from the installed packages only: the working directory is off
`sys.path` while it is imported and while the factory runs. Code from a local file runs only when
the user names it as a path: `models.py:build`, `./models.py:build`, `tools/models.py:build`.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from contextlib import contextmanager
from pathlib import Path

from .errors import SpecError
from .escape import cut, quote


def is_path(module_name: str) -> bool:
    """A file named as a path (`models.py`, `./models.py`, `dir/models.py`), not a dotted module."""
    return module_name.endswith(".py") or "/" in module_name or os.sep in module_name


def cwd_entries(path: list[str]) -> list[str]:
    """The entries of sys.path that stand for the working directory: '', '.' or its own path."""
    try:
        here = os.path.realpath(os.getcwd())
    except OSError:  # the working directory was removed: only the relative spellings can name it
        here = None
    return [p for p in path if p in ("", ".") or (here is not None and os.path.realpath(p) == here)]


@contextmanager
def installed_only():
    """sys.path without the working directory, restored afterwards."""
    saved = sys.path[:]
    sys.path[:] = [p for p in sys.path if p not in cwd_entries(sys.path)]
    try:
        yield
    finally:
        sys.path[:] = saved


def load_module(module_name: str):
    """The module of MODULE:FACTORY: a file named as a path, or an installed module."""
    if not is_path(module_name):
        with installed_only():
            return importlib.import_module(module_name)
    path = Path(module_name)
    if not path.is_file():
        raise SpecError(f"{cut(module_name)}: no such file")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise SpecError(f"{cut(module_name)}: cannot be imported as a Python module (name a .py file)")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(path.stem, module)
    with installed_only():
        spec.loader.exec_module(module)
    return module


def load_factory(target: str):
    """MODULE:FACTORY (an installed dotted module, or a .py file named as a path) -> the model it builds."""
    from .importers.torch import need_torch

    module_name, sep, factory_name = target.rpartition(":")
    if not sep or not module_name or not factory_name:
        raise SpecError(
            "expected MODULE:FACTORY (e.g. torchvision.models:resnet18, or a file named as a path: "
            f"models.py:build), found {quote(target)}"
        )
    torch = need_torch()
    try:
        module = load_module(module_name)
    except SpecError:
        raise
    except Exception as e:  # the user's code: any failure is bad input, reported in one line
        hint = (
            f"a file in the working directory is loaded only when named as a path: {module_name.replace('.', '/')}.py"
            if isinstance(e, ImportError) and Path(module_name.replace(".", "/") + ".py").is_file()
            else None
        )
        raise SpecError(f"cannot import {cut(module_name)}: {type(e).__name__}: {cut(e, 200)}", hint=hint) from None
    factory = getattr(module, factory_name, None)
    if not callable(factory):
        raise SpecError(f"{cut(module_name)} has no callable {quote(factory_name)}")
    try:
        with installed_only():
            model = factory()
    except Exception as e:
        raise SpecError(f"{cut(target)}() failed: {type(e).__name__}: {cut(e, 200)}") from None
    if not isinstance(model, torch.nn.Module):
        raise SpecError(f"{cut(target)}() returned {type(model).__name__}, not a torch.nn.Module")
    return model.eval()
