"""`paramcalc check`: many spec files, each parsed, shape-checked and held to its budgets.
Every file is checked even when an earlier one fails."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field

from .analyze import analyze
from .budget import LIMITS, Budget, Violation, check_budgets, spec_budgets
from .errors import SpecError
from .report import Report
from .spec import load_spec

OK, OVER_BUDGET, FAILED, INVALID = "ok", "over_budget", "failed_expectation", "invalid"


@dataclass
class FileResult:
    path: str
    status: str
    report: Report | None = None
    violations: list[Violation] = field(default_factory=list)
    error: SpecError | None = None


def expand_paths(paths: list[str]) -> list[str]:
    """Files as given; directories recursed for *.yaml / *.yml; globs expanded (for quoted globs and
    shells that don't). A missing file is kept, so it is reported as missing; a directory or glob
    without a spec is a mistake (a mis-pointed CI step must not pass)."""
    found: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            specs = sorted(p for pattern in ("*.yaml", "*.yml")
                           for p in glob.glob(os.path.join(path, "**", pattern), recursive=True))
            if not specs:
                raise SpecError(f"no spec files found in {path}", hint="a directory is searched for *.yaml and *.yml")
            found += specs
        elif not os.path.exists(path) and glob.has_magic(path):
            specs = sorted(glob.glob(path, recursive=True))
            if not specs:
                raise SpecError(f"no spec files match {path}")
            found += specs
        else:
            found.append(path)
    if not found:
        raise SpecError("no spec files given")
    return list(dict.fromkeys(found))


def check_file(path: str, flags: dict[str, Budget], batch: int | None = None) -> FileResult:
    try:
        spec = load_spec(path)
        if batch is not None:
            spec.batch = batch
        budgets = spec_budgets(spec)
        for key, budget in flags.items():   # a flag wins over the spec, and points at the spec's top
            budgets[key] = Budget(budget.key, budget.value, "flag", spec.loc)
        report = analyze(spec)
        violations = check_budgets(report, budgets)
    except SpecError as e:
        return FileResult(path, INVALID, error=e)
    status = OK if not violations else OVER_BUDGET if any(v.key in LIMITS for v in violations) else FAILED
    return FileResult(path, status, report, violations)


def exit_code(results: list[FileResult], strict: bool = False) -> int:
    """2 if any spec is invalid, else 1 if any budget or expectation failed (or, with strict, any spec
    has a warning), else 0."""
    statuses = {r.status for r in results}
    warned = strict and any(r.report and r.report.warnings for r in results)
    return 2 if INVALID in statuses else 1 if statuses - {OK} or warned else 0
