"""Output of `paramcalc check`: a readable summary, JSON for scripts, GitHub Actions annotations."""

from __future__ import annotations

from dataclasses import asdict

from ..check import Status
from ..escape import github_data, github_property, terminal
from . import human, human_params

LABEL = {
    Status.OK: "ok",
    Status.OVER_BUDGET: "over budget",
    Status.FAILED_EXPECTATION: "failed expectation",
    Status.INVALID: "invalid",
}
TITLE = {Status.OVER_BUDGET: "paramcalc: over budget", Status.FAILED_EXPECTATION: "paramcalc: expectation failed"}
SCHEMA_VERSION = 1


STRICT = "failed on warnings (--strict)"


def failed_on_warnings(r, strict: bool) -> bool:
    """An ok spec that --strict fails: it has a warning."""
    return strict and r.status == Status.OK and bool(r.report and r.report.warnings)


def summary_line(results, strict: bool = False) -> str:
    """'22 specs, 12 ok, 10 over budget'; with --strict, a spec that has a warning is not ok."""
    counts: dict[str, int] = {}
    for r in results:
        label = STRICT if failed_on_warnings(r, strict) else LABEL[r.status]
        counts[label] = counts.get(label, 0) + 1
    parts = [f"{counts[label]} {label}" for label in (*LABEL.values(), STRICT) if counts.get(label)]
    noun = "spec" if len(results) == 1 else "specs"
    return f"{len(results)} {noun}, " + ", ".join(parts)


def _error_text(error) -> str:
    return str(error).replace("\n", "\n    ")


def _names_file(r) -> bool:
    """The message already starts with the file (its location, or 'x.yaml: no such file')."""
    return r.error.loc is not None or str(r.error).startswith(r.path + ":")


def _ok_line(r) -> str:
    t = r.report.totals
    return (
        f"ok       {terminal(r.path)}: {human_params(t.params)} params, {human(t.macs, 'MACs')}, "
        f"output {r.report.output_shape}"
    )


def _warning_lines(r) -> list[str]:
    """Why --strict failed an ok spec: each warning, where it is."""
    return [
        f"FAIL     {terminal(str(w) if w.loc else f'{r.path}: {w}')} (a warning: --strict fails on warnings)"
        for w in r.report.warnings
    ]


def _violation_lines(r) -> list[str]:
    lines = []
    for v in r.violations:
        where = terminal(f"{v.loc.source}:{v.loc.line}" if v.source == "spec" and v.loc else r.path)
        lines.append(f"FAIL     {where}: {v.message}" + (" (budget in the spec)" if v.source == "spec" else ""))
    return lines


def _invalid_line(r) -> str:
    if _names_file(r):
        return f"INVALID  {_error_text(r.error)}"
    return f"INVALID  {terminal(r.path)}: {_error_text(r.error)}"


def render_check_text(results, quiet: bool = False, strict: bool = False) -> str:
    lines = []
    for r in results:
        if failed_on_warnings(r, strict):
            lines += _warning_lines(r)
        elif r.status == Status.OK:
            lines += [] if quiet else [_ok_line(r)]
        elif r.status in TITLE:
            lines += _violation_lines(r)
        else:
            lines.append(_invalid_line(r))
    if not quiet:
        lines.append(summary_line(results, strict))
    return "\n".join(lines) + ("\n" if lines else "")


def result_dict(r) -> dict:
    out = {
        "schema_version": SCHEMA_VERSION,
        "path": r.path,
        "status": r.status,
        "totals": asdict(r.report.totals) if r.report else None,
        "output_shape": r.report.output_shape if r.report else None,
        "violations": [
            {
                "key": v.key,
                "type": v.kind,
                "limit": v.limit,
                "actual": v.actual,
                "source": v.source,
                "line": v.loc.line if v.loc else None,
                "message": v.message,
            }
            for v in r.violations
        ],
        "warnings": [w.to_dict() for w in r.report.warnings] if r.report else [],
        "error": None,
    }
    if r.error:
        loc = r.error.loc
        out["error"] = {"message": str(r.error), "line": loc.line if loc else None, "col": loc.col if loc else None}
    return out


def render_check_json(results) -> str:
    from .json import to_json  # here: the table and annotations need no json module

    return to_json([result_dict(r) for r in results])


def render_check_github(results, strict: bool = False) -> str:
    """GitHub Actions workflow commands: each failure annotates its spec line in the PR."""
    lines = []
    for r in results:
        for w in r.report.warnings if r.report else ():
            line = f",line={w.loc.line},col={w.loc.col}" if w.loc and w.loc.source == r.path else ""
            level, title = ("error", "paramcalc: warning (--strict)") if strict else ("warning", "paramcalc: warning")
            lines.append(
                f"::{level} file={github_property(terminal(r.path))}{line},"
                f"title={github_property(title)}::{github_data(terminal(f'{w.layer}: {w.message}'))}"
            )
        if r.status in TITLE:
            for v in r.violations:
                line_number = v.loc.line if v.loc and v.loc.source == r.path else 1
                title = TITLE[Status.OVER_BUDGET if v.kind == "limit" else Status.FAILED_EXPECTATION]
                lines.append(
                    f"::error file={github_property(terminal(r.path))},line={line_number},"
                    f"title={github_property(title)}::{github_data(v.message)}"
                )
        elif r.status == Status.INVALID:
            loc = r.error.loc
            on_file = loc is not None and loc.source == r.path
            position = f",line={loc.line},col={loc.col}" if on_file else ""
            message = str(r.error).split(": ", 1)[1] if on_file or _names_file(r) else str(r.error)
            # The message is str(SpecError): every part already escaped for a terminal, its only
            # newlines those between its lines, which become %0A (a multi-line annotation).
            lines.append(
                f"::error file={github_property(terminal(r.path))}{position},"
                f"title={github_property('paramcalc: invalid spec')}::{github_data(message)}"
            )
    lines.append(summary_line(results, strict))
    return "\n".join(lines) + "\n"


def render(results, fmt: str, quiet: bool = False, strict: bool = False) -> str:
    """`check`'s output: table, json or github."""
    if fmt == "json":
        return render_check_json(results)
    if fmt == "github":
        return render_check_github(results, strict)
    return render_check_text(results, quiet, strict)
