"""`paramcalc check`: many spec files, each parsed, shape-checked and held to its budgets.
Every file is checked even when an earlier one fails, in as many processes as asked."""

from __future__ import annotations

import os
from dataclasses import replace
from enum import StrEnum

from .analysis import Analysis
from .budget import LIMITS, MEMORY_LIMITS, Budget, Violation, check_budgets, spec_budgets
from .errors import SpecError
from .report import Report
from .spec import load_spec


class Status(StrEnum):
    """A spec's outcome; its value is what JSON says."""

    OK = "ok"
    OVER_BUDGET = "over_budget"
    FAILED_EXPECTATION = "failed_expectation"
    INVALID = "invalid"


class FileResult:
    def __init__(
        self,
        path: str,
        status: Status,
        report: Report | None = None,
        violations: list[Violation] | None = None,
        error: SpecError | None = None,
    ):
        self.path, self.status, self.report, self.error = path, status, report, error
        self.violations = violations or []


MAX_FILES = 10_000  # spec files one `check` reads; a repository of specs has far fewer


def expand_paths(paths: list[str], follow_symlinks: bool = False) -> list[tuple[str, str | None]]:
    """(path, why it is not read, or None) for each spec to check: files as given; directories
    walked for *.yaml / *.yml (hidden entries skipped, as a shell glob does); globs expanded (for
    quoted globs and shells that don't). A missing file is kept, so it is reported as missing; a
    directory or glob without a spec is a mistake (a mis-pointed CI step must not pass). A walk
    reads each directory and file once (symlink loops end), and does not follow a symlink that
    leads out of the directory it was given unless `follow_symlinks`."""
    from .escape import terminal

    found: list[tuple[str, str | None]] = []
    for path in paths:
        if os.path.isdir(path):
            specs = _walk(path, follow_symlinks)
            if not specs:
                raise SpecError(
                    f"no spec files found in {terminal(path)}", hint="a directory is searched for *.yaml and *.yml"
                )
            found += specs
        elif not os.path.lexists(path) and _has_magic(path):
            matches = _glob(path, follow_symlinks)
            if not matches:
                raise SpecError(f"no spec files match {terminal(path)}")
            found += [(p, None) for p in matches]
        else:
            found.append((path, None))
        if len(found) > MAX_FILES:
            return found[:MAX_FILES] + [(path, f"more than {MAX_FILES:,} spec files; the rest were not checked")]
    if not found:
        raise SpecError("no spec files given")
    return list(dict.fromkeys(found))


def _has_magic(path: str) -> bool:
    """As glob.has_magic, without importing glob (and compiling its patterns) where no path is a glob."""
    return any(c in path for c in "*?[")


def _glob(pattern: str, follow_symlinks: bool) -> list[str]:
    """A glob; `**` (any depth) walks its base directory as a directory argument is walked, so
    symlink loops end, and matches with fnmatch, whose `*` crosses directories."""
    import fnmatch
    import glob

    if "**" not in pattern:
        return sorted(glob.glob(pattern))
    base = pattern.split("**", 1)[0]
    base = base if os.path.isdir(base or ".") and not _has_magic(base) else "."
    flat = pattern.replace("**/", "*")
    return [
        path
        for path, why in _walk(base or ".", follow_symlinks)
        if why is None and fnmatch.fnmatch(os.path.normpath(path), os.path.normpath(flat))
    ]


def _walk(root: str, follow_symlinks: bool) -> list[tuple[str, str | None]]:
    real_root = os.path.realpath(root)

    def inside(path: str) -> bool:
        real = os.path.realpath(path)
        return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)

    def identity(path: str):
        info = os.stat(path)
        return info.st_dev, info.st_ino

    seen = {identity(root)}
    found: list[tuple[str, str | None]] = []
    stack = [root]
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
                        found.append(
                            (
                                entry.path,
                                f"a symlink to a file outside {root}; not followed (--follow-symlinks reads it)",
                            )
                        )
                    continue
                key = identity(entry.path)
            except OSError:  # a dangling symlink, a name too long: reported by the read
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


def check_paths(
    paths: list[str],
    flags: dict[str, Budget],
    batch: int | None = None,
    follow_symlinks: bool = False,
    jobs: int = 1,
    activations: bool = True,
) -> list[FileResult]:
    """Every spec's result, in order. With `jobs` > 1 the specs are checked in that many processes,
    and each report comes back as its header and totals, without rows: sending a report's rows
    between processes costs more than computing them. Without `activations` the reports' memory
    totals are None (a memory budget is checked all the same)."""
    found = expand_paths(paths, follow_symlinks)

    def one(item: tuple[str, str | None]) -> FileResult:
        path, why = item
        return (
            check_file(path, flags, batch, activations)
            if why is None
            else FileResult(path, Status.INVALID, error=SpecError(why))
        )

    if jobs > 1 and len(found) > 1 and hasattr(os, "fork"):
        return _forked(lambda item: _without_rows(one(item)), found, jobs)
    return [one(item) for item in found]


def check_file(path: str, flags: dict[str, Budget], batch: int | None = None, activations: bool = True) -> FileResult:
    try:
        spec = load_spec(path)
        budgets = spec_budgets(spec)
        for key, budget in flags.items():  # a flag wins over the spec, and points at the spec's top
            budgets[key] = Budget(budget.key, budget.value, "flag", spec.loc)
        # a check shows totals; the memory model (JSON's memory totals, a memory budget) reads rows
        rows = activations or any(key in MEMORY_LIMITS for key in budgets)
        analysis = Analysis.of(spec, batch=batch, receptive_fields=False, activations=activations, totals_only=not rows)
        violations = check_budgets(analysis, budgets)
    except SpecError as e:
        return FileResult(path, Status.INVALID, error=e)
    status = (
        Status.OK
        if not violations
        else Status.OVER_BUDGET
        if any(v.key in LIMITS for v in violations)
        else Status.FAILED_EXPECTATION
    )
    return FileResult(path, status, analysis.report, violations)


def _forked(work, items: list, jobs: int) -> list:
    """work(item) for every item, in `jobs` processes: this one and forks of it (which start with
    everything imported). Each process takes the next item from one queue, a pipe of item numbers
    (a read this small is atomic), the largest files first, so the work evens out whatever each spec
    costs. A fork sends its results back through a pipe of its own (pickled: keep them small); an item
    whose result never came back (its fork crashed or was killed) is done again here, so its error
    shows as it would in one process."""
    import contextlib
    import struct

    def size(i: int) -> int:
        try:
            return os.stat(items[i][0]).st_size
        except (OSError, ValueError):
            return 0

    order = sorted(range(len(items)), key=size, reverse=True)
    queue, queue_in = os.pipe()
    os.set_blocking(queue_in, False)
    # numbers that do not fit in the pipe (on Linux they all do: 40 KB at most) are done here after
    with contextlib.suppress(BlockingIOError):
        os.write(queue_in, b"".join(struct.pack("<I", i) for i in order))
    os.close(queue_in)

    def take() -> dict[int, FileResult]:
        done = {}
        while len(number := os.read(queue, 4)) == 4:
            i = struct.unpack("<I", number)[0]
            done[i] = work(items[i])
        return done

    forks = []
    for _ in range(min(jobs, len(items)) - 1):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the fork: never returns, never flushes the parent's buffers
            code = 1
            try:
                os.close(read)
                done = take()
                import pickle  # (imported once the work is done, here and below: it overlaps the other's work)

                data = pickle.dumps(done)
                with os.fdopen(write, "wb") as out:
                    out.write(data)
                code = 0
            finally:
                os._exit(code)
        os.close(write)
        forks.append((pid, read))
    results = take()
    os.close(queue)
    import pickle

    for pid, read in forks:
        with os.fdopen(read, "rb") as pipe:
            data = pipe.read()
        if os.waitpid(pid, 0)[1] == 0:
            results.update(pickle.loads(data))
    return [results[i] if i in results else work(items[i]) for i in range(len(items))]


def cpus() -> int:
    """The CPUs this process may run on (a container's or taskset's share, not the machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _without_rows(result: FileResult) -> FileResult:
    if result.report is not None:
        result.report = replace(result.report, layers=[], blocks=[])
    return result


def exit_code(results: list[FileResult], strict: bool = False) -> int:
    """2 if any spec is invalid, else 1 if any budget or expectation failed (or, with strict, any spec
    has a warning), else 0."""
    statuses = {r.status for r in results}
    warned = strict and any(r.report and r.report.warnings for r in results)
    return 2 if Status.INVALID in statuses else 1 if statuses - {Status.OK} or warned else 0
