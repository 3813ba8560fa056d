"""The library's entry point, as the CLI uses it: `from paramcalc import analyze, load_spec`."""

from __future__ import annotations

import os

from .report import Report
from .spec import Spec, load_spec


def analyze(spec: Spec | str | os.PathLike, *, batch: int | None = None) -> Report:
    """Analyse a Spec, or the spec file at a path (`-`: stdin), at `batch` if given (else the
    spec's). Raises SpecError on bad input; never prints."""
    from .analyze import analyze as run

    # Handed on without a name left holding it, so that a spec only this call holds is freed once its
    # graph is built (the analysis keeps its header): the entries of a 100,000-layer file take more
    # memory than its report.
    held = [spec if isinstance(spec, Spec) else load_spec(os.fspath(spec))]
    del spec
    return run(held.pop(), batch=batch)
