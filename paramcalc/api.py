"""The library's entry point, as the CLI uses it: `from paramcalc import analyze, load_spec`."""

from __future__ import annotations

import os

from .report import Report
from .spec import Spec, load_spec


def analyze(spec: Spec | str | os.PathLike, *, batch: int | None = None) -> Report:
    """Analyse a Spec, or the spec file at a path (`-`: stdin), at `batch` if given (else the
    spec's). Raises SpecError on bad input; never prints."""
    from .analyze import analyze as run

    return run(spec if isinstance(spec, Spec) else load_spec(os.fspath(spec)), batch=batch)
