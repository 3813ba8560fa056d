"""The `paramcalc` command: a thin shell over the library."""

from __future__ import annotations

import atexit
import gc
import os
import sys
from collections.abc import Iterable
from enum import StrEnum
from typing import NoReturn

import typer

from . import cli_memory
from .errors import SpecError


class _Group(typer.core.TyperGroup):
    """Every command runs inside this: running out of memory or stack on an input that no limit
    caught is still bad input, one message and exit 2, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except MemoryError:
            fail(SpecError("out of memory: the input asks for more memory than this machine has"))
        except RecursionError:
            fail(SpecError("the input nests too deeply to be read (Python's recursion limit)"))
        except typer.TyperException as e:  # a usage error echoes arguments: maybe a pull request's file names
            from .escape import workflow_lines

            if isinstance(getattr(e, "message", None), str):
                e.message = workflow_lines(e.message)  # type: ignore[attr-defined]
            raise
        except RuntimeError as e:  # torch's allocator says it in a RuntimeError (an input of 30 GB)
            if "can't allocate memory" not in str(e) and "out of memory" not in str(e):
                raise
            fail(SpecError(f"out of memory: {str(e).splitlines()[0][:300]}"))


app = typer.Typer(
    cls=_Group,
    help="Exact parameter counts, output shapes and MACs of a neural network, from a YAML spec, "
    "without importing a framework.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def examples(*lines: str) -> str:
    """A help epilog of real commands; \b keeps click from re-wrapping them."""
    return "\b\nExamples:\n" + "\n".join("  " + line for line in lines)


def complete_kind(incomplete: str) -> list[str]:
    from .layers import REGISTRY

    return [k for k in REGISTRY if k.startswith(incomplete.lower())]


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"
    md = "md"  # markdown's usual short name
    mermaid = "mermaid"
    dot = "dot"


class KindsFormat(StrEnum):
    table = "table"
    json = "json"


class CheckFormat(StrEnum):
    table = "table"
    json = "json"
    github = "github"


class DiffFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"
    md = "md"


def fail(error: SpecError) -> None:
    """Bad input: one message on stderr, exit 2, nothing on stdout."""
    from .escape import workflow_lines

    _write_stderr(workflow_lines(f"error: {error}\n"))
    raise typer.Exit(error.exit_code)


def warn(warnings) -> None:
    """Legal but probably unintended: on stderr, so stdout stays the result."""
    from .escape import workflow_lines

    for w in warnings:
        _write_stderr(workflow_lines(f"warning: {w}\n"))


def _write_stderr(text: str) -> None:
    try:
        _write(sys.stderr, text)
    except (OSError, ValueError, AttributeError):  # stderr closed: the exit code still tells
        pass


def _write(stream, text: str) -> None:
    try:
        stream.write(text)
    except UnicodeEncodeError:  # a terminal that is not UTF-8: what it cannot show, as escapes
        encoding = stream.encoding or "ascii"
        stream.write(text.encode(encoding, "backslashreplace").decode(encoding))
    stream.flush()


def emit(text: str | Iterable[str], workflow_commands: bool = False) -> None:
    """Writes a result once it is computed (a string, or the pieces of one: JSON, whose rows are
    encoded as they are written, and never held whole), so a failure never leaves half an output.
    A closed or full output is a one-line error (exit 2). Only output made of workflow commands
    (`check --format github`) may have lines that start one (no JSON line can: each starts with a
    quote, a bracket or a number). The older form, `##[command]`, is broken wherever it is, in
    every output (JSON pieces included: its escape is JSON's own)."""
    from .escape import workflow_anywhere, workflow_lines

    if isinstance(text, str):
        text = [workflow_anywhere(text) if workflow_commands else workflow_lines(text)]
    else:
        text = map(workflow_anywhere, text)
    if sys.stdout is None:
        fail(SpecError("cannot write the output: standard output is closed"))
    try:
        for piece in text:
            for start in range(0, len(piece), 2**20):  # a MiB at a time: stdout encodes each in one copy
                _write(sys.stdout, piece[start : start + 2**20])
    except BrokenPipeError:  # `| head` closed the pipe: not an error, and nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError) as e:
        try:  # what is still buffered goes nowhere, rather than failing again at exit
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
def main(
    version: bool = typer.Option(
        False, "--version", callback=version_callback, is_eager=True, help="Show the version and exit."
    ),
):
    if sys.stdout is None:  # started with stdout closed (`>&-`): nothing could be shown
        fail(SpecError("cannot write the output: standard output is closed"))


@app.command(
    epilog=examples(
        "paramcalc analyze specs/resnet50.yaml --depth 1",
        "paramcalc analyze specs/gpt2.yaml --columns name,output,params,macs",
        "paramcalc analyze -i 784 -l 'linear(128)' -l relu -l 'linear(10)'",
    )
)
def analyze(
    spec: str | None = typer.Argument(
        None, metavar="[SPEC]", help="Spec file (YAML; JSON is valid YAML), or - for stdin."
    ),
    input: str | None = typer.Option(
        None, "-i", "--input", metavar="SHAPE", help="Inline input shape: 3x224x224, 3,224,224 or [3,224,224]."
    ),
    layer: list[str] | None = typer.Option(
        None, "-l", "--layer", metavar="LAYER", help="Inline layer, repeatable: 'conv2d(64, kernel=3, padding=1)'."
    ),
    format: Format = typer.Option(
        Format.table,
        "-f",
        "--format",
        case_sensitive=False,
        metavar="FORMAT",
        help="table, json, csv, markdown (md), mermaid or dot.",
    ),
    depth: int | None = typer.Option(
        None,
        "-d",
        "--depth",
        min=1,
        metavar="N",
        help="Collapse blocks nested deeper than this into one row (table, markdown) or node (mermaid, dot).",
    ),
    batch: int | None = typer.Option(
        None, "-b", "--batch", min=1, max=2**63 - 1, metavar="N", help="Batch size (scales MACs); overrides the spec."
    ),
    columns: str | None = typer.Option(
        None,
        "--columns",
        metavar="COLUMNS",
        help="Table columns, comma-separated: index, name, kind, input, output, weights, bias, params, buffers, "
        "macs; and those --memory, --rf and --share add: activation, saved, rf, rf_stride, rf_start, "
        "params_share, macs_share.",
    ),
    wide: bool = typer.Option(False, "--wide", help="Show every column in full, however narrow the terminal."),
    save_svg: str | None = typer.Option(
        None, "--save-svg", metavar="FILE.svg", help="Also save the table as an SVG image."
    ),
    save_html: str | None = typer.Option(
        None, "--save-html", metavar="FILE.html", help="Also save the table as an HTML page."
    ),
    memory: bool = typer.Option(
        False,
        "--memory",
        help="Table: add each layer's activation bytes and the bytes it adds to what training keeps for backward.",
    ),
    rf: bool = typer.Option(False, "--rf", help="Add receptive-field columns to the table (size, stride, start)."),
    share: bool = typer.Option(
        False,
        "--share",
        help="Add each row's share of params and MACs as bars to the table, and name the five costliest.",
    ),
):
    """Per-layer weights, bias, output shape and MACs of a network, with totals."""
    from . import analyze as run, inline_spec, load_spec
    from .render import render

    fmt = "markdown" if format == Format.md else format.value
    try:
        check_extensions(save_svg, save_html)
        if columns is not None and fmt != "table":
            raise SpecError("--columns chooses the table's columns; it has no effect with --format " + fmt)
        if spec is not None and (input or layer):
            raise SpecError("give either a spec file or inline -i/-l layers, not both")
        if spec is None and (not input or not layer):
            raise SpecError("give a spec file (or - for stdin), or an inline network: -i SHAPE -l LAYER ...")
        # No name holds the spec: the analysis frees its entries once it has the graph.
        report = run(load_spec(spec) if spec is not None else inline_spec(input or "", layer or []), batch=batch)
        if (rf or share or memory) and fmt != "table":
            raise SpecError(
                f"--rf and --share add table columns (and --memory too); --format {fmt} "
                + ("has them per layer already" if fmt == "json" else "does not take them")
            )
        picked = None
        if columns is not None:
            from .render.table import default_columns, extra_columns, pick_columns

            offered = default_columns(report, depth) + extra_columns(report, True, True, True)  # any by name
            picked = pick_columns(offered, columns.split(","))
        text: str | Iterable[str]
        if fmt == "json":  # in pieces: the text of a 100,000-layer report is never copied whole
            from .render.json import render_json_parts

            text = render_json_parts(report)
        elif fmt == "table":
            text = render(report, fmt, depth, columns=picked, wide=wide, memory=memory, rf=rf, share=share)
        else:
            text = render(report, fmt, depth)
        if save_svg or save_html:
            from .render.table import EXPORT, report_lines

            save_exports(
                report_lines(report, depth, EXPORT, picked, wide=True, memory=memory, rf=rf, share=share),
                report.name,
                save_svg,
                save_html,
            )
    except SpecError as e:
        fail(e)
    warn(report.warnings)
    emit(text)
    keep(report)


def check_extensions(svg: str | None, html: str | None) -> None:
    """--save-svg x.png is a mistake worth stopping for, before any work."""
    for path, flag, endings in ((svg, "--save-svg", (".svg",)), (html, "--save-html", (".html", ".htm"))):
        if path and not path.lower().endswith(endings):
            raise SpecError(
                f"{flag} writes {endings[0][1:].upper()}, but '{path}' ends in "
                f"'{os.path.splitext(path)[1] or '(no extension)'}'",
                hint=f"name the file ...{endings[0]}",
            )


def save_exports(lines, title: str, svg: str | None, html: str | None) -> None:
    from .render.table import export

    for path, fmt in ((svg, "svg"), (html, "html")):
        if path:
            write_atomic(path, export(lines, fmt, title))


def write_atomic(path: str, text: str) -> None:
    """Write to a temporary file beside `path`, then rename: a failure never leaves half a file.
    Only a regular file is ever replaced (never a device, pipe, directory or symlink). The file gets
    the permissions a plain open() would give (0666 less the umask), not mkstemp's 0600."""
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
        raise SpecError(
            f"cannot write {shown}: it exists and is not a regular file (a directory, device, pipe "
            "or symlink); paramcalc only replaces regular files"
        )
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".paramcalc-", suffix=".tmp")
    except OSError as e:
        raise SpecError(f"cannot write {shown}: {e.strerror}") from None
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise SpecError(f"cannot write {shown}: {e.strerror}") from None


@app.command(
    epilog=examples(
        "paramcalc check specs/ --max-params 30M",
        "paramcalc check 'specs/**/*.yaml' --max-macs 5G --format github",
        "paramcalc check model.yaml --expect-output 1000 --expect-params 25557032",
    )
)
def check(
    paths: list[str] = typer.Argument(
        ..., metavar="PATH...", help="Spec files, directories (searched for *.yaml, *.yml) or globs."
    ),
    max_params: str | None = typer.Option(None, "--max-params", metavar="N", help="Most parameters allowed, e.g. 25M."),
    max_trainable: str | None = typer.Option(
        None, "--max-trainable", metavar="N", help="Most trainable parameters allowed."
    ),
    max_macs: str | None = typer.Option(None, "--max-macs", metavar="N", help="Most MACs allowed, e.g. 4.5G."),
    max_param_bytes: str | None = typer.Option(
        None, "--max-param-bytes", metavar="BYTES", help="Most parameter bytes, e.g. 100MiB."
    ),
    max_train_memory: str | None = typer.Option(
        None,
        "--max-train-memory",
        metavar="BYTES",
        help="Most training memory per device, e.g. 80GiB (settings "
        "from the spec's budget: precision, optimizer, batch, ...).",
    ),
    max_inference_memory: str | None = typer.Option(
        None, "--max-inference-memory", metavar="BYTES", help="Most inference memory per device, e.g. 24GiB."
    ),
    max_train_peak: str | None = typer.Option(
        None,
        "--max-train-peak",
        metavar="BYTES",
        help="Most bytes alive at the training step's peak per device, e.g. 80GiB (settings as above).",
    ),
    expect_output: str | None = typer.Option(
        None, "--expect-output", metavar="SHAPE", help="Required output shape, e.g. 1000."
    ),
    expect_params: str | None = typer.Option(
        None, "--expect-params", metavar="N", help="Exact parameter count required."
    ),
    batch: int | None = typer.Option(
        None, "-b", "--batch", min=1, max=2**63 - 1, metavar="N", help="Batch size (scales MACs); overrides specs."
    ),
    format: CheckFormat = typer.Option(
        CheckFormat.table,
        "-f",
        "--format",
        case_sensitive=False,
        metavar="FORMAT",
        help="table, json (one object per file) or github (Actions annotations).",
    ),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print only failures."),
    strict: bool = typer.Option(False, "--strict", help="Warnings (an output nobody reads) fail too: exit 1."),
    follow_symlinks: bool = typer.Option(
        False, "--follow-symlinks", help="In directories, also read symlinks that lead outside them."
    ),
    jobs: int | None = typer.Option(
        None, "-j", "--jobs", min=1, max=1024, metavar="N", help="Check in N processes (default: one per CPU)."
    ),
):
    """Check that specs parse, their shapes chain and their budgets hold (flags win over a spec's
    `budget:`). Exit 0 all ok, 1 a budget or expectation failed, 2 a spec is invalid or no spec
    was found."""
    from .budget import parse_budget
    from .check import check_paths, cpus, exit_code
    from .errors import Loc

    flags = {
        "max_params": max_params,
        "max_trainable": max_trainable,
        "max_macs": max_macs,
        "max_param_bytes": max_param_bytes,
        "expect_output": expect_output,
        "expect_params": expect_params,
        "max_train_memory": max_train_memory,
        "max_inference_memory": max_inference_memory,
        "max_train_peak": max_train_peak,
    }
    try:
        budgets = {
            key: parse_budget(key, value, "flag", Loc("--" + key.replace("_", "-"), 0, 0))
            for key, value in flags.items()
            if value is not None
        }
        # the memory model's totals are shown in JSON only (a memory budget computes its own)
        results = check_paths(
            paths, budgets, batch, follow_symlinks, jobs or cpus(), activations=format == CheckFormat.json
        )
    except SpecError as e:
        fail(e)
    from .render import check as out

    text = out.render(results, format.value, quiet, strict)
    if format == CheckFormat.table:  # JSON and GitHub annotations carry them in the output
        warn(w for r in results if r.report for w in r.report.warnings)
    emit(text, workflow_commands=format == CheckFormat.github)
    raise typer.Exit(exit_code(results, strict))


@app.command(
    epilog=examples(
        "paramcalc diff specs/resnet18.yaml specs/resnet50.yaml",
        "git show main:specs/model.yaml | paramcalc diff - specs/model.yaml -f md",
        "paramcalc diff old.yaml new.yaml --depth 1 --exit-code",
    )
)
def diff(
    old: str = typer.Argument(..., metavar="OLD", help="The old spec (or - for stdin)."),
    new: str = typer.Argument(..., metavar="NEW", help="The new spec (or - for stdin)."),
    format: DiffFormat = typer.Option(
        DiffFormat.table, "-f", "--format", case_sensitive=False, metavar="FORMAT", help="table, json or markdown (md)."
    ),
    depth: int | None = typer.Option(
        None, "-d", "--depth", min=1, metavar="N", help="Compare blocks down to this depth, not every layer."
    ),
    all_layers: bool = typer.Option(False, "--all", help="Also list unchanged layers."),
    exit_code: bool = typer.Option(
        False, "--exit-code", help="Exit 1 when anything changed, 0 when nothing did (as git diff --exit-code)."
    ),
    wide: bool = typer.Option(False, "--wide", help="Show every column in full, however narrow the terminal."),
    save_svg: str | None = typer.Option(
        None, "--save-svg", metavar="FILE.svg", help="Also save the table as an SVG image."
    ),
    save_html: str | None = typer.Option(
        None, "--save-html", metavar="FILE.html", help="Also save the table as an HTML page."
    ),
):
    """What changed between two specs: layers added, removed, renamed or changed (matched by
    name), and the totals."""
    from . import Analysis, load_spec
    from .diff import diff_analyses
    from .render import diff as out

    try:
        check_extensions(save_svg, save_html)
        if old == "-" and new == "-":
            raise SpecError("only one side of a diff can be read from stdin")
        result = diff_analyses(Analysis.of(load_spec(old)), Analysis.of(load_spec(new)), depth)
        text = out.render(result, "markdown" if format == DiffFormat.md else format.value, all_layers, wide)
        if save_svg or save_html:
            from .render.table import EXPORT

            save_exports(out.diff_lines(result, all_layers, EXPORT, wide=True), out.title(result), save_svg, save_html)
    except SpecError as e:
        fail(e)
    emit(text)
    if exit_code and result.changed:
        raise typer.Exit(1)


app.command(epilog=examples(*cli_memory.EXAMPLES))(cli_memory.memory)


@app.command(epilog=examples("paramcalc schema > paramcalc.schema.json"))
def schema():
    """Print the JSON Schema (draft 2020-12) of the spec format, for editors and validators."""
    from .schema import build_schema

    emit(_json(build_schema()))


@app.command(
    epilog=examples(
        "paramcalc kinds",
        "paramcalc kinds conv2d",
        "paramcalc kinds conv   # every conv kind",
        "paramcalc kinds --format json | jq '.kinds[].kind'",
    )
)
def kinds(
    kind: str | None = typer.Argument(
        None,
        metavar="[KIND]",
        autocompletion=complete_kind,
        help="One kind to describe in detail, e.g. conv2d; or part of a name.",
    ),
    format: KindsFormat = typer.Option(
        KindsFormat.table, "-f", "--format", case_sensitive=False, metavar="FORMAT", help="table or json."
    ),
):
    """Every layer kind with its fields, defaults and meaning; or one kind with its formulas."""
    from .kinds import describe_kind, kind_catalogue, matching_kinds
    from .layers import REGISTRY, normalize_kind
    from .render import kinds as out

    try:
        if kind is None:
            data = kind_catalogue()
        elif normalize_kind(kind) not in REGISTRY and matching_kinds(kind):
            data = {"word": kind, "kinds": [describe_kind(k) for k in matching_kinds(kind)]}
        else:
            data = describe_kind(kind)
        text = out.render(data, format.value)
    except SpecError as e:
        fail(e)
    emit(text)


@app.command(
    epilog=examples(
        "paramcalc export specs/resnet18.yaml -o resnet18.py",
        "paramcalc export specs/gpt2.yaml > gpt2.py",
        "paramcalc import hf config.json | paramcalc export - -o model.py",
    )
)
def export(
    spec: str = typer.Argument(..., metavar="SPEC", help="Spec file (YAML), or - for stdin."),
    output: str | None = typer.Option(
        None, "-o", "--output", metavar="FILE", help="Write to this file instead of stdout."
    ),
):
    """The spec as PyTorch source: a module importing only torch that defines build_model(), with the
    spec's names as module names (so its state_dict keys are the spec's names)."""
    from .export import export_pytorch
    from .spec import load_spec

    try:
        text = export_pytorch(load_spec(spec))
        if output:
            write_atomic(output, text)
    except SpecError as e:
        fail(e)
    if not output:
        emit(text)


import_app = typer.Typer(
    help="Write a spec from what you already have: a Hugging Face config.json or a PyTorch model.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(import_app, name="import")


def _write_spec(text: str, output: str | None) -> None:
    if output:
        write_atomic(output, text)
    else:
        emit(text)


@import_app.command(
    "hf",
    epilog=examples(
        "paramcalc import hf config.json --seq 4096 -o specs/llama.yaml",
        "paramcalc import hf config.json | paramcalc analyze - --depth 1",
        "paramcalc import hf config.json | paramcalc memory - --inference",
    ),
)
def import_hf(
    config: str = typer.Argument(
        ...,
        metavar="CONFIG",
        help="A Hugging Face config.json (model types: see the README's table).",
    ),
    seq: int | None = typer.Option(
        None,
        "--seq",
        min=1,
        metavar="N",
        help="Sequence length of the inputs (default 4,096, or the config's maximum if smaller).",
    ),
    output: str | None = typer.Option(
        None, "-o", "--output", metavar="FILE", help="Write the spec to this file instead of stdout."
    ),
):
    """A spec from a Hugging Face config.json: no network, no transformers. Names are the checkpoint's."""
    from .importers.hf import import_hf as build

    try:
        _write_spec(build(config, seq), output)
    except SpecError as e:
        fail(e)


@import_app.command(
    "torch",
    epilog=examples(
        "paramcalc import torch torchvision.models:resnet18 -i 3x224x224 -o resnet18.yaml",
        "paramcalc import torch mymodels.py:build -i 3x32x32",
        "paramcalc import torch mymodels.py:lm -i 128 --tokens 32000",
    ),
)
def import_torch(
    target: str = typer.Argument(
        ...,
        metavar="MODULE:FACTORY",
        help="The function that builds the model, e.g. torchvision.models:resnet18 or mymodels.py:build.",
    ),
    input: str = typer.Option(
        ...,
        "-i",
        "--input",
        metavar="SHAPE",
        help="Per-sample input shape, e.g. 3x224x224; several inputs: 3x224x224;16.",
    ),
    tokens: int | None = typer.Option(
        None, "--tokens", min=1, metavar="N", help="The input is token ids below this vocabulary size."
    ),
    output: str | None = typer.Option(
        None, "-o", "--output", metavar="FILE", help="Write the spec to this file instead of stdout."
    ),
):
    """A spec from a PyTorch model (needs torch): traced with torch.fx, or with module hooks where
    fx cannot trace; module paths become layer names."""
    from .importers.torch import import_torch as build

    try:
        _write_spec(build(target, input, tokens), output)
    except SpecError as e:
        fail(e)


@app.command(
    epilog=examples(
        "paramcalc verify specs/resnet50.yaml torchvision.models:resnet50",
        "paramcalc verify model.yaml mymodels.py:build --format json",
        "paramcalc verify model.yaml mymodels.py:build --outputs",
    )
)
def verify(
    spec: str = typer.Argument(..., metavar="SPEC", help="The spec file (or - for stdin)."),
    target: str = typer.Argument(
        ...,
        metavar="MODULE:FACTORY",
        help="The function that builds the model, e.g. torchvision.models:resnet50.",
    ),
    format: KindsFormat = typer.Option(
        KindsFormat.table, "-f", "--format", case_sensitive=False, metavar="FORMAT", help="table or json."
    ),
    outputs: bool = typer.Option(
        False,
        "--outputs",
        help="Also compare what they compute: the spec's exported code, given the model's state_dict (strict), "
        "on the same input as the model.",
    ),
):
    """Check that a spec matches the model the code builds (needs torch): parameters and buffers per
    named module and in total, and the output shape. Exit 0 they agree, 1 they differ (every
    difference listed), 2 bad input."""
    from .render import verify as out
    from .verify import verify_spec

    try:
        result = verify_spec(spec, target, outputs)
    except SpecError as e:
        fail(e)
    emit(out.render(result, format.value))
    raise typer.Exit(0 if result.ok else 1)


# Every command's help: SPEC (not typer's {SPEC}) in its usage line, its examples wrapped to the width.
from .helptext import HelpCommand  # noqa: E402

for _command in (*app.registered_commands, *import_app.registered_commands):
    _command.cls = HelpCommand


def _json(value) -> str:
    from .render.json import to_json

    return to_json(value)


def only_the_command(first: list[str]) -> None:
    """typer builds the parser of every command (reading each function's signature) before it runs
    one: when the first argument names a command, only that one is built. Anything else (no command,
    --help, a mistyped name to suggest a fix for, shell completion) sees them all."""
    if not first or os.environ.get("_PARAMCALC_COMPLETE"):
        return
    commands = [
        c
        for c in app.registered_commands
        if (c.name or getattr(c.callback, "__name__", "").replace("_", "-")) == first[0]
    ]
    groups = [g for g in app.registered_groups if g.name == first[0]]
    if commands or groups:
        app.registered_commands[:], app.registered_groups[:] = commands, groups


# What the commands of a process run() started made, held until it ends (see keep).
_kept: list | None = None


def keep(value) -> None:
    """Holds a command's result to the end of the process, when run() started it: os._exit then gives
    its memory back at once, where freeing 100,000 rows one by one as the command returns takes 30 ms.
    Elsewhere (a CliRunner in a test) nothing is held."""
    if _kept is not None:
        _kept.append(value)


def run() -> None:
    global _kept
    # A run builds its objects once and keeps them to the end (YAML values, layers, rows), with no
    # cycles to collect; the collector would only re-scan them as they grow, which makes 100,000
    # layers take 15-20x as long as 10,000. Objects of the imports are set aside as well.
    gc.freeze()
    gc.disable()
    _kept = []
    only_the_command(sys.argv[1:2])
    try:
        app(prog_name="paramcalc")
    except SystemExit as e:  # how typer ends every run, with its exit code
        finish(e.code)
    except KeyboardInterrupt:
        finish(130)


def finish(code: int | str | None) -> NoReturn:
    """Ends the process as sys.exit(code) would, without Python's finalization, which tears down
    every object and module one by one (6-9 ms of a 110 ms run) when the system would take the
    memory back at once. atexit handlers still run, and both streams are flushed; a flush that fails
    ends with 120, as Python's own exit does."""
    if isinstance(code, str):
        _write_stderr(code + "\n")
    status = code if isinstance(code, int) else 1 if isinstance(code, str) else 0
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            status = status or 120
    os._exit(status)
