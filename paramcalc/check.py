"""`paramcalc check`: many spec files, each parsed, shape-checked and held to its budgets.
Every file is checked even when an earlier one fails."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field

from .analyze import analyze
from .budget import Budget, Violation, check_budgets, spec_budgets
from .errors import SpecError
from .report import Report
from .spec import load_spec

OK, OVER_BUDGET, INVALID = "ok", "over_budget", "invalid"


@dataclass
class FileResult:
    path: str
    status: str
    report: Report | None = None
    violations: list[Violation] = field(default_factory=list)
    error: SpecError | None = None


MAX_FILES = 10_000   # spec files one `check` reads; a repository of specs has far fewer


def expand_paths(paths: list[str], follow_symlinks: bool = False) -> list[tuple[str, str | None]]:
    """(path, why it is not read, or None) for each spec to check: files as given; directories
    walked for *.yaml / *.yml (hidden entries skipped, as a shell glob does); globs expanded (for
    quoted globs and shells that don't). A path that matches nothing is kept, so it is reported as
    missing. A walk reads each directory and file once (symlink loops end), and does not follow a
    symlink that leads out of the directory it was given unless `follow_symlinks`."""
    found: list[tuple[str, str | None]] = []
    for path in paths:
        if os.path.isdir(path):
            found += _walk(path, follow_symlinks)
        elif not os.path.lexists(path) and glob.has_magic(path):
            found += [(p, None) for p in sorted(glob.glob(path))] or [(path, None)]
        else:
            found.append((path, None))
        if len(found) > MAX_FILES:
            return found[:MAX_FILES] + [(path, f"more than {MAX_FILES:,} spec files; the rest were not checked")]
    return list(dict.fromkeys(found))


def _walk(root: str, follow_symlinks: bool) -> list[tuple[str, str | None]]:
    real_root = os.path.realpath(root)

    def inside(path: str) -> bool:
        real = os.path.realpath(path)
        return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)

    def identity(path: str):
        info = os.stat(path)
        return info.st_dev, info.st_ino

    seen = {identity(root)}
    found, stack = [], [root]
    while stack and len(found) <= MAX_FILES:
        directory = stack.pop()
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir()
                is_spec = not is_dir and entry.name.endswith((".yaml", ".yml"))
                if not (is_dir or is_spec):
                    continue
                if entry.is_symlink() and not follow_symlinks and not inside(entry.path):
                    if is_spec:
                        found.append((entry.path, f"a symlink to a file outside {root}; not "
                                                  "followed (--follow-symlinks reads it)"))
                    continue
                key = identity(entry.path)
            except OSError:     # a dangling symlink, a name too long: reported by the read
                if entry.name.endswith((".yaml", ".yml")):
                    found.append((entry.path, None))
                continue
            if key in seen:
                continue
            seen.add(key)
            if is_dir:
                stack.append(entry.path)
            else:
                found.append((entry.path, None))
    return sorted(found)


def check_paths(paths: list[str], flags: dict[str, Budget], batch: int | None = None,
                follow_symlinks: bool = False) -> list[FileResult]:
    return [check_file(path, flags, batch) if why is None else FileResult(path, INVALID, error=SpecError(why))
            for path, why in expand_paths(paths, follow_symlinks)]


def check_file(path: str, flags: dict[str, Budget], batch: int | None = None) -> FileResult:
    try:
        spec = load_spec(path)
        if batch is not None:
            spec.batch = batch
        budgets = spec_budgets(spec)
        for key, budget in flags.items():   # a flag wins over the spec, and points at the spec's top
            budgets[key] = Budget(budget.key, budget.value, "flag", spec.loc)
        report = analyze(spec)
    except SpecError as e:
        return FileResult(path, INVALID, error=e)
    violations = check_budgets(report, budgets)
    return FileResult(path, OVER_BUDGET if violations else OK, report, violations)


def exit_code(results: list[FileResult]) -> int:
    """2 if any spec is invalid, else 1 if any budget failed, else 0."""
    statuses = {r.status for r in results}
    return 2 if INVALID in statuses else 1 if OVER_BUDGET in statuses else 0
