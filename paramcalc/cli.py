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


def fail(error: SpecError) -> None:
    """Bad input: one message on stderr, exit 2, nothing on stdout."""
    sys.stderr.write(f"error: {error}\n")
    raise typer.Exit(error.exit_code)


def emit(text: str) -> None:
    """Writes a fully rendered result at once, so a failure never leaves half an output."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:  # `| head` closed the pipe: not an error
        sys.stderr.close()


def version_callback(value: bool):
    if value:
        from . import __version__
        emit(f"paramcalc {__version__}\n")
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=version_callback, is_eager=True,
                                      help="Show the version and exit.")):
    pass


@app.command()
def analyze(
    spec: Optional[str] = typer.Argument(None, help="Spec file (YAML; JSON is valid YAML), or - for stdin."),
    input: Optional[str] = typer.Option(None, "-i", "--input", help="Inline input shape, e.g. 3x224x224 or 3,224,224."),
    layer: Optional[list[str]] = typer.Option(None, "-l", "--layer",
                                              help="Inline layer, repeatable: 'conv2d(64, kernel=3, padding=1)'."),
    format: Format = typer.Option(Format.table, "-f", "--format", help="Output format."),
    depth: Optional[int] = typer.Option(None, "-d", "--depth", min=1,
                                        help="Collapse blocks nested deeper than this into one row (table, markdown)."),
    batch: Optional[int] = typer.Option(None, "-b", "--batch", min=1, help="Batch size (scales MACs); overrides the spec."),
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
        text = render(run(parsed), format.value, depth)
    except SpecError as e:
        fail(e)
    emit(text)


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
    import json
    return json.dumps(value, indent=2) + "\n"


def run() -> None:
    app()
