"""The library's entry point, as the CLI uses it: `from paramcalc import analyze, load_spec`."""

from __future__ import annotations

import os

from .report import Report
from .spec import Spec


def analyze(spec: Spec | str | os.PathLike, *, batch: int | None = None) -> Report:
    """The Report of a Spec, or of the spec file at a path (`-`: stdin), at `batch` if given (else
    the spec's). Raises SpecError on bad input; never prints. `paramcalc.Analysis` keeps, besides
    the Report, the layers, graph and shapes that memory, export and verify read."""
    from .analysis import Analysis

    held = [spec]  # handed on with no name left holding it: see Analysis
    del spec
    return Analysis.of(held.pop(), batch=batch).report
