"""The `memory` command: its options and the thin shell that runs memory.py and render/memory.py.
cli.py registers it on the app (only typer is imported here; the rest on first use)."""

from __future__ import annotations

from enum import StrEnum

import typer

from .errors import SpecError

EXAMPLES = (
    "paramcalc memory specs/llama2_7b.yaml --precision bf16-mixed --optimizer adamw --zero 3 --devices 8",
    "paramcalc memory specs/gpt2.yaml --inference --weights bf16 --kv-cache 1024",
    "paramcalc memory specs/resnet50.yaml --batch 64 --format json",
)


class MemoryFormat(StrEnum):
    table = "table"
    json = "json"


def memory(
    spec: str = typer.Argument(..., help="Spec file (YAML), or - for stdin."),
    inference: bool = typer.Option(
        False, "--inference/--train", help="Inference (peak activations) instead of training (the default)."
    ),
    batch: int | None = typer.Option(None, "-b", "--batch", min=1, help="Batch size per device; overrides the spec."),
    precision: str = typer.Option(
        "fp32",
        "--precision",
        help="fp32, bf16, fp16, bf16-mixed or fp16-mixed (16-bit weights and "
        "activations, fp32 master weights and optimizer state).",
    ),
    optimizer: str = typer.Option("adamw", "--optimizer", help="sgd, momentum, adam, adamw, adagrad or rmsprop."),
    zero: int = typer.Option(
        0,
        "--zero",
        help="ZeRO stage: 1 partitions optimizer state, 2 gradients too, 3 parameters too, across --devices.",
    ),
    devices: int = typer.Option(1, "--devices", help="Data-parallel devices."),
    checkpoint: bool = typer.Option(
        False,
        "--checkpoint",
        help="Activation checkpointing at each repetition of the outermost repeats (else "
        "the top-level blocks): keep each block's input, recompute one at a time.",
    ),
    kv_cache: int = typer.Option(
        0,
        "--kv-cache",
        min=0,
        metavar="SEQ",
        help="Cache keys and values of every attention layer for SEQ positions (inference).",
    ),
    weights: str | None = typer.Option(
        None, "--weights", help="Inference weight format: fp32, bf16, fp16, fp8, int8 or int4."
    ),
    attention: str = typer.Option(
        "flash", "--attention", help="flash (fused: no attention matrix kept) or math (the softmax output kept too)."
    ),
    device: str = typer.Option(
        "cuda", "--device", help="cuda or cpu: the kernels whose saved tensors differ (dropout's mask)."
    ),
    format: MemoryFormat = typer.Option(
        MemoryFormat.table, "-f", "--format", case_sensitive=False, metavar="FORMAT", help="table or json."
    ),
):
    """Will it fit? Memory to train (parameters, gradients, optimizer state, saved activations) or to
    run (parameters, peak activations, KV cache) a network, per device with ZeRO."""
    from .analyze import analyze as run
    from .cli import emit, fail
    from .memory import Settings, memory as compute
    from .render import memory as out
    from .spec import load_spec

    try:
        settings = Settings(
            train=not inference,
            batch=batch,
            precision=precision,
            optimizer=optimizer,
            zero=zero,
            devices=devices,
            checkpoint=checkpoint,
            kv_cache=kv_cache,
            weights=weights,
            attention=attention,
            device=device,
        )
        settings.validate()
        # memory() works out the activations at its own settings: the rows' fields would go unread
        report = run(load_spec(spec), receptive_fields=False, activations=False)
        result = compute(report, report.layer_objects, settings)
        text = out.render(result, format.value)
    except SpecError as e:
        fail(e)
    emit(text)
