"""The `paramcalc` command: a thin shell over the library."""

from __future__ import annotations

import sys
from enum import Enum
from typing import Optional

import typer

from .errors import SpecError

app = typer.Typer(
    help="Exact parameter counts, output shapes and MACs of a neural network, from a YAML spec, "
         "without importing a framework.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None,
)


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


class KindsFormat(str, Enum):
    table = "table"
    json = "json"


class CheckFormat(str, Enum):
    table = "table"
    json = "json"
    github = "github"


class DiffFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"


def fail(error: SpecError) -> None:
    """Bad input: one message on stderr, exit 2, nothing on stdout."""
    from .escape import workflow_lines
    _write_stderr(workflow_lines(f"error: {error}\n"))
    raise typer.Exit(error.exit_code)


def _write_stderr(text: str) -> None:
    try:
        _write(sys.stderr, text)
    except (OSError, ValueError, AttributeError):   # stderr closed: the exit code still tells
        pass


def _write(stream, text: str) -> None:
    try:
        stream.write(text)
    except UnicodeEncodeError:   # a terminal that is not UTF-8: what it cannot show, as escapes
        encoding = stream.encoding or "ascii"
        stream.write(text.encode(encoding, "backslashreplace").decode(encoding))
    stream.flush()


def emit(text: str, workflow_commands: bool = False) -> None:
    """Writes a fully rendered result at once, so a failure never leaves half an output. A closed
    or full output is a one-line error (exit 2). Only output made of workflow commands
    (`check --format github`) may have lines that start one."""
    import os

    from .escape import workflow_lines
    if not workflow_commands:
        text = workflow_lines(text)
    if sys.stdout is None:
        fail(SpecError("cannot write the output: standard output is closed"))
    try:
        _write(sys.stdout, text)
    except BrokenPipeError:  # `| head` closed the pipe: not an error, and nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError) as e:
        try:   # what is still buffered goes nowhere, rather than failing again at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        fail(SpecError(f"cannot write the output: {getattr(e, 'strerror', None) or e}"))


def version_callback(value: bool):
    if value:
        from . import __version__
        emit(f"paramcalc {__version__}\n")
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=version_callback, is_eager=True,
                                      help="Show the version and exit.")):
    if sys.stdout is None:   # started with stdout closed (`>&-`): nothing could be shown
        fail(SpecError("cannot write the output: standard output is closed"))


@app.command()
def analyze(
    spec: Optional[str] = typer.Argument(None, help="Spec file (YAML; JSON is valid YAML), or - for stdin."),
    input: Optional[str] = typer.Option(None, "-i", "--input", help="Inline input shape, e.g. 3x224x224 or 3,224,224."),
    layer: Optional[list[str]] = typer.Option(None, "-l", "--layer",
                                              help="Inline layer, repeatable: 'conv2d(64, kernel=3, padding=1)'."),
    format: Format = typer.Option(Format.table, "-f", "--format", help="Output format."),
    depth: Optional[int] = typer.Option(None, "-d", "--depth", min=1,
                                        help="Collapse blocks nested deeper than this into one row (table, markdown)."),
    batch: Optional[int] = typer.Option(None, "-b", "--batch", min=1, max=2**63 - 1, help="Batch size (scales MACs); overrides the spec."),
    save_svg: Optional[str] = typer.Option(None, "--save-svg", help="Also save the table as an SVG image."),
    save_html: Optional[str] = typer.Option(None, "--save-html", help="Also save the table as an HTML page."),
):
    """Per-layer weights, bias, output shape and MACs of a network, with totals."""
    from .analyze import analyze as run
    from .render import render
    from .spec import inline_spec, load_spec
    try:
        if spec is not None and (input or layer):
            raise SpecError("give either a spec file or inline -i/-l layers, not both")
        if spec is None:
            if not input or not layer:
                raise SpecError("give a spec file (or - for stdin), or an inline network: -i SHAPE -l LAYER ...")
            parsed = inline_spec(input, layer)
        else:
            parsed = load_spec(spec)
        if batch is not None:
            parsed.batch = batch
        report = run(parsed)
        text = render(report, format.value, depth)
        if save_svg or save_html:
            from .render.table import print_report
            save_exports(lambda console, plain: print_report(console, report, depth, plain), report.name,
                         save_svg, save_html)
    except SpecError as e:
        fail(e)
    emit(text)


def save_exports(print_fn, title: str, svg: str | None, html: str | None) -> None:
    from .render.table import export
    for path, fmt in ((svg, "svg"), (html, "html")):
        if path:
            write_atomic(path, export(print_fn, fmt, title))


def write_atomic(path: str, text: str) -> None:
    """Write to a temporary file beside `path`, then rename: a failure never leaves half a file.
    Only a regular file is ever replaced (never a device, pipe, directory or symlink)."""
    import os
    import stat
    import tempfile

    from .escape import cut
    shown = cut(path, 160)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        info = None
    except (OSError, ValueError) as e:
        raise SpecError(f"cannot write {shown}: {getattr(e, 'strerror', None) or 'not a valid file name'}") from None
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise SpecError(f"cannot write {shown}: it exists and is not a regular file (a directory, device, pipe "
                        "or symlink); paramcalc only replaces regular files")
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".paramcalc-", suffix=".tmp")
    except OSError as e:
        raise SpecError(f"cannot write {shown}: {e.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise SpecError(f"cannot write {shown}: {e.strerror}") from None


@app.command()
def check(
    paths: list[str] = typer.Argument(..., help="Spec files, directories (searched for *.yaml, *.yml) or globs."),
    max_params: Optional[str] = typer.Option(None, "--max-params", help="Most parameters allowed, e.g. 25M."),
    max_trainable: Optional[str] = typer.Option(None, "--max-trainable", help="Most trainable parameters allowed."),
    max_macs: Optional[str] = typer.Option(None, "--max-macs", help="Most MACs allowed, e.g. 4.5G."),
    max_param_bytes: Optional[str] = typer.Option(None, "--max-param-bytes", help="Most parameter bytes, e.g. 100MiB."),
    expect_output: Optional[str] = typer.Option(None, "--expect-output", help="Required output shape, e.g. 1000."),
    expect_params: Optional[str] = typer.Option(None, "--expect-params", help="Exact parameter count required."),
    batch: Optional[int] = typer.Option(None, "-b", "--batch", min=1, max=2**63 - 1, help="Batch size (scales MACs); overrides specs."),
    format: CheckFormat = typer.Option(CheckFormat.table, "-f", "--format",
                                       help="table, json (one object per file) or github (Actions annotations)."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print only failures."),
    follow_symlinks: bool = typer.Option(False, "--follow-symlinks",
                                         help="In directories, also read symlinks that lead outside them."),
):
    """Check that specs parse, their shapes chain and their budgets hold (flags win over a spec's
    `budget:`). Exit 0 all ok, 1 a budget or expectation failed, 2 a spec is invalid."""
    from .budget import parse_budget
    from .check import check_paths, exit_code
    from .errors import Loc
    flags = {"max_params": max_params, "max_trainable": max_trainable, "max_macs": max_macs,
             "max_param_bytes": max_param_bytes, "expect_output": expect_output, "expect_params": expect_params}
    try:
        budgets = {key: parse_budget(key, value, "flag", Loc("--" + key.replace("_", "-"), 0, 0))
                   for key, value in flags.items() if value is not None}
    except SpecError as e:
        fail(e)
    results = check_paths(paths, budgets, batch, follow_symlinks)
    from .render import check as out
    if format == CheckFormat.json:
        text = out.render_check_json(results)
    elif format == CheckFormat.github:
        text = out.render_check_github(results)
    else:
        text = out.render_check_text(results, quiet)
    emit(text, workflow_commands=format == CheckFormat.github)
    raise typer.Exit(exit_code(results))


@app.command()
def diff(
    old: str = typer.Argument(..., help="The old spec (or - for stdin)."),
    new: str = typer.Argument(..., help="The new spec (or - for stdin)."),
    format: DiffFormat = typer.Option(DiffFormat.table, "-f", "--format", help="Output format."),
    all_layers: bool = typer.Option(False, "--all", help="Also list unchanged layers."),
    save_svg: Optional[str] = typer.Option(None, "--save-svg", help="Also save the table as an SVG image."),
    save_html: Optional[str] = typer.Option(None, "--save-html", help="Also save the table as an HTML page."),
):
    """What changed between two specs: layers added, removed or changed (matched by name), and
    the totals. Compare with git: git show HEAD:spec.yaml | paramcalc diff - spec.yaml"""
    from .analyze import analyze as run
    from .diff import diff_reports
    from .render import diff as out
    from .spec import load_spec
    try:
        if old == "-" and new == "-":
            raise SpecError("only one side of a diff can be read from stdin")
        result = diff_reports(run(load_spec(old)), run(load_spec(new)))
        if format == DiffFormat.json:
            text = out.render_diff_json(result, all_layers)
        elif format == DiffFormat.markdown:
            text = out.render_diff_markdown(result, all_layers)
        else:
            text = out.render_diff_table(result, all_layers)
        if save_svg or save_html:
            save_exports(lambda console, plain: out.print_diff(console, result, all_layers, plain),
                         f"{result.old.name} → {result.new.name}", save_svg, save_html)
    except SpecError as e:
        fail(e)
    emit(text)


@app.command()
def schema():
    """Print the JSON Schema (draft 2020-12) of the spec format, for editors and validators."""
    from .schema import build_schema
    emit(_json(build_schema()))


@app.command()
def kinds(
    kind: Optional[str] = typer.Argument(None, help="One kind to describe in detail, e.g. conv2d."),
    format: KindsFormat = typer.Option(KindsFormat.table, "-f", "--format", help="Output format."),
):
    """Every layer kind with its fields, defaults and meaning; or one kind with its formulas."""
    from .kinds import describe_kind, kind_catalogue, render_catalogue, render_kind
    try:
        if kind is None:
            text = render_catalogue() if format == KindsFormat.table else _json(kind_catalogue())
        else:
            text = render_kind(kind) if format == KindsFormat.table else _json(describe_kind(kind))
    except SpecError as e:
        fail(e)
    emit(text)


def _json(value) -> str:
    from .render.json import to_json
    return to_json(value)


def run() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
