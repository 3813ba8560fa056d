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
    "paramcalc memory specs/llama3_8b.yaml --precision amp-bf16 --zero 3 --devices 8 --gpu 80GB --max-batch",
)


class MemoryFormat(StrEnum):
    table = "table"
    json = "json"


def memory(
    spec: str = typer.Argument(..., metavar="SPEC", help="Spec file (YAML), or - for stdin."),
    inference: bool = typer.Option(
        False, "--inference/--train", help="Inference (peak activations) instead of training (the default)."
    ),
    batch: int | None = typer.Option(
        None, "-b", "--batch", metavar="N", min=1, help="Batch size per device; overrides the spec."
    ),
    precision: str = typer.Option(
        "fp32",
        "--precision",
        metavar="PRECISION",
        help="fp32; bf16 or fp16 (pure); amp-bf16 or amp-fp16 (torch.autocast: fp32 weights, 16-bit "
        "matmuls and convolutions); bf16-mixed or fp16-mixed (DeepSpeed/Megatron: 16-bit weights and "
        "activations, fp32 master weights and optimizer state).",
    ),
    optimizer: str = typer.Option(
        "adamw",
        "--optimizer",
        metavar="OPTIMIZER",
        help="sgd, momentum, adam, adamw, adagrad, rmsprop or adamw8bit (bitsandbytes' 8-bit states).",
    ),
    zero: int = typer.Option(
        0,
        "--zero",
        metavar="STAGE",
        help="ZeRO stage: 1 partitions optimizer state, 2 gradients too, 3 parameters too, across --devices.",
    ),
    devices: int = typer.Option(1, "--devices", metavar="N", help="Data-parallel devices."),
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
        None,
        "--weights",
        metavar="FORMAT",
        help="Inference weight format: fp32, bf16, fp16, fp8, int8 or int4; with --serve also "
        "gptq-int4, gptq-int8, awq-int4, nf4 and GGUF's q8_0, q4_0, q4_1, q5_0, q5_1, q2_k ... q6_k.",
    ),
    attention: str = typer.Option(
        "flash",
        "--attention",
        metavar="KIND",
        help="flash (fused: no attention matrix kept) or math (the softmax output kept too).",
    ),
    device: str = typer.Option(
        "cuda",
        "--device",
        metavar="DEVICE",
        help="cuda or cpu: the kernels whose saved tensors differ (dropout's mask).",
    ),
    loss: str | None = typer.Option(
        None,
        "--loss",
        metavar="LOSS",
        help="cross_entropy (F.cross_entropy on the last layer's output), causal_lm (Hugging Face's: "
        "logits upcast to fp32, labels shifted) or none. Default: cross_entropy for class scores, causal_lm "
        "for a score per token and vocabulary entry, else none.",
    ),
    optimizer_impl: str = typer.Option(
        "foreach",
        "--optimizer-impl",
        metavar="IMPL",
        help="foreach (PyTorch's default on GPUs: one copy of the parameters as a temporary), for-loop "
        "(two of the largest) or fused (none).",
    ),
    gpu: str | None = typer.Option(
        None,
        "--gpu",
        metavar="BYTES",
        help="The device's memory, e.g. 80GiB: says whether the step fits (--serve: the most sequences).",
    ),
    reserve: str | None = typer.Option(
        None,
        "--reserve",
        metavar="BYTES",
        help="Taken by the framework beyond tensors (CUDA context, allocator): default 1GiB on cuda, 0 on cpu.",
    ),
    max_batch: bool = typer.Option(False, "--max-batch", help="Search the largest batch that fits on --gpu."),
    lora: int = typer.Option(
        0,
        "--lora",
        metavar="RANK",
        min=0,
        help="LoRA adapters of this rank over a frozen base (peft's LoraLayer): only they train.",
    ),
    lora_targets: str | None = typer.Option(
        None,
        "--lora-targets",
        metavar="NAMES",
        help="Glob patterns on layer names for --lora, comma-separated (attention's projections are "
        "LAYER.q_proj, .k_proj, .v_proj, .o_proj); default '*q_proj,*v_proj', peft's for Llama.",
    ),
    qlora: bool = typer.Option(
        False, "--qlora", help="With --lora: the frozen linears in NF4 (bitsandbytes, block 64, double-quantised)."
    ),
    offload: str | None = typer.Option(
        None,
        "--offload",
        metavar="WHAT",
        help="DeepSpeed: optimizer (ZeRO-Offload: optimizer state, master weights on the host) or params "
        "(ZeRO-Infinity, --zero 3: the parameters too).",
    ),
    max_seq: bool = typer.Option(
        False, "--max-seq", help="Search the longest sequence (token inputs) that fits on --gpu."
    ),
    timeline: bool = typer.Option(False, "--timeline", help="JSON: the step's live bytes, layer by layer."),
    plot: str | None = typer.Option(
        None,
        "--plot",
        metavar="FILE.svg",
        help="Draw the step's (--inference: the forward's) live bytes over time as an SVG picture, with the "
        "peak and the device's memory (--gpu, --reserve).",
    ),
    serve: bool = typer.Option(
        False, "--serve", help="Serve as paged engines (vLLM) do: weights, a KV cache in blocks, one step's peak."
    ),
    seq: int | None = typer.Option(
        None,
        "--seq",
        metavar="N",
        min=1,
        help="--serve: tokens per sequence (prompt and output; default the spec's input).",
    ),
    concurrency: int | None = typer.Option(
        None, "--concurrency", metavar="N", min=1, help="--serve: sequences at once."
    ),
    prefill_tokens: int | None = typer.Option(
        None,
        "--prefill-tokens",
        metavar="N",
        min=1,
        help="--serve: tokens a prefill step processes (default min(seq, 2048)).",
    ),
    block_size: int = typer.Option(
        16, "--block-size", metavar="N", min=1, help="--serve: positions per KV-cache block."
    ),
    gpu_memory_utilization: float = typer.Option(
        0.9, "--gpu-memory-utilization", metavar="SHARE", help="--serve: the share of --gpu the engine may use."
    ),
    kv_dtype: str | None = typer.Option(
        None, "--kv-dtype", metavar="DTYPE", help="--serve: fp32, bf16, fp16 or fp8 (default: the activations' dtype)."
    ),
    group_size: int = typer.Option(
        128, "--group-size", metavar="N", min=1, help="GPTQ/AWQ weights: values per scale and zero."
    ),
    tp: int = typer.Option(
        1, "--tp", metavar="N", min=1, help="Tensor-parallel devices (Megatron's column/row-parallel split)."
    ),
    pp: int = typer.Option(1, "--pp", metavar="N", min=1, help="Pipeline stages (equal runs of the outermost repeat)."),
    ep: int = typer.Option(1, "--ep", metavar="N", min=1, help="Expert-parallel devices (kinds with experts)."),
    cp: int = typer.Option(1, "--cp", metavar="N", min=1, help="Context-parallel devices (the sequence split)."),
    dp: int = typer.Option(
        1, "--dp", metavar="N", min=1, help="Data-parallel replicas (with --distributed-optimizer or --fsdp)."
    ),
    sequence_parallel: bool = typer.Option(
        False, "--sequence-parallel", help="Split what tensor parallelism replicates (norms, dropouts) over --tp."
    ),
    distributed_optimizer: bool = typer.Option(
        False, "--distributed-optimizer", help="Megatron's: optimizer state and master weights sharded over --dp."
    ),
    fsdp: bool = typer.Option(False, "--fsdp", help="FSDP (ZeRO-3, fully_shard per block) over --dp."),
    microbatches: int | None = typer.Option(
        None, "--microbatches", metavar="N", min=1, help="Microbatches per step through the pipeline (default --pp)."
    ),
    pipeline_schedule: str = typer.Option(
        "1f1b", "--pipeline-schedule", metavar="SCHEDULE", help="1f1b or interleaved."
    ),
    virtual_stages: int = typer.Option(
        2, "--virtual-stages", metavar="N", min=1, help="Chunks per device when interleaved."
    ),
    parallel_engine: str = typer.Option(
        "megatron",
        "--parallel-engine",
        metavar="ENGINE",
        help="megatron (vocabulary padded, fp32 gradients in mixed precision) or torch (DTensor, FSDP2).",
    ),
    format: MemoryFormat = typer.Option(
        MemoryFormat.table, "-f", "--format", case_sensitive=False, metavar="FORMAT", help="table or json."
    ),
):
    """Will it fit? Memory to train (parameters, gradients, optimizer state, saved activations, and the
    peak of a training step) or to run (parameters, peak activations, KV cache) a network, per device."""
    from dataclasses import replace

    from .analysis import Analysis
    from .budget import parse_amount
    from .cli import emit, fail
    from .memory import DEFAULT_RESERVE, Settings, fits, max_batch as search, memory as compute
    from .render import memory as out
    from .spec import load_spec

    if serve:
        from .render import serve as shown
        from .serve import ServeSettings, refuse_training_options, serve as compute_serving

        try:
            refuse_training_options(
                {
                    "--kv-cache": kv_cache,
                    "--zero": zero,
                    "--checkpoint": checkpoint,
                    "--devices": devices > 1,
                    "--precision": precision != "fp32",
                    "--loss": loss,
                    "--reserve": reserve,
                    "--max-batch": max_batch,
                    "--timeline": timeline,
                    "--plot": plot,
                    "--pp": pp > 1,
                    "--ep": ep > 1,
                    "--cp": cp > 1,
                    "--dp": dp > 1,
                    "--fsdp": fsdp,
                    "--distributed-optimizer": distributed_optimizer,
                    "--sequence-parallel": sequence_parallel,
                    "--lora": lora,
                    "--qlora": qlora,
                    "--offload": offload,
                    "--max-seq": max_seq,
                }
            )
            serving = ServeSettings(
                seq=seq,
                concurrency=concurrency or batch,
                gpu=parse_amount(gpu, "--gpu") if gpu is not None else None,
                prefill_tokens=prefill_tokens,
                block_size=block_size,
                gpu_memory_utilization=gpu_memory_utilization,
                weights=weights or "bf16",
                group_size=group_size,
                kv_dtype=kv_dtype,
                attention=attention,
                device=device,
                tp=tp,
            )
            serving.validate()
            text = shown.render(compute_serving(load_spec(spec), serving), format.value)
        except SpecError as e:
            fail(e)
        emit(text)
        return
    from .parallel import Parallel

    par = Parallel(
        tp=tp,
        pp=pp,
        ep=ep,
        cp=cp,
        dp=dp,
        sequence_parallel=sequence_parallel,
        distributed_optimizer=distributed_optimizer,
        fsdp=fsdp,
        microbatches=microbatches,
        schedule=pipeline_schedule,
        virtual=virtual_stages,
        engine=parallel_engine,
    )
    if par.active:
        from .parallel import sharded
        from .render import parallel as drawn
        from .serve import refuse_training_options as refuse

        try:
            refuse(
                {
                    "--gpu": gpu,
                    "--max-batch": max_batch,
                    "--timeline": timeline,
                    "--lora": lora,
                    "--offload": offload,
                    "--max-seq": max_seq,
                    "--optimizer adamw8bit": optimizer == "adamw8bit",
                    "--plot": plot,
                },
                "--tp/--pp/--dp",
            )
            settings = Settings(
                batch=batch,
                precision=precision,
                optimizer=optimizer,
                zero=zero,
                devices=devices,
                checkpoint=checkpoint,
                attention=attention,
                device=device,
                train=not inference,
            )
            settings.validate()
            par.validate()
            analysis = Analysis.of(load_spec(spec), receptive_fields=False, activations=False)
            text = drawn.render(sharded(analysis, settings, par), format.value)
        except SpecError as e:
            fail(e)
        emit(text)
        return
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
            loss=loss,
            optimizer_impl=optimizer_impl,
            lora=lora,
            lora_targets=lora_targets,
            qlora=qlora,
            offload=offload,
        )
        settings.validate()
        gpu_bytes = parse_amount(gpu, "--gpu") if gpu is not None else None
        reserve_bytes = parse_amount(reserve, "--reserve") if reserve is not None else DEFAULT_RESERVE[device]
        if max_batch and gpu_bytes is None:
            raise SpecError("--max-batch searches what fits on a device: give --gpu, e.g. --gpu 80GiB")
        if max_seq and gpu_bytes is None:
            raise SpecError("--max-seq searches what fits on a device: give --gpu, e.g. --gpu 80GiB")
        # memory() works out the activations at its own settings: the rows' fields would go unread
        analysis = Analysis.of(load_spec(spec), receptive_fields=False, activations=False)
        result = compute(analysis, settings)
        if gpu_bytes is not None:
            result = replace(result, verdict=fits(result, gpu_bytes, reserve_bytes))
        if max_batch and gpu_bytes is not None:
            found = search(analysis, settings, gpu_bytes, reserve_bytes)
            result = replace(result, max_batch=found)
        if max_seq and gpu_bytes is not None:
            from .memory import max_seq as longest

            result = replace(result, max_seq=longest(load_spec(spec), settings, gpu_bytes, reserve_bytes))
        result = replace(result, show_timeline=timeline)
        text = out.render(result, format.value)
        if plot is not None:
            from .cli import write_atomic
            from .memory import plot as plotted
            from .render.plot import render_plot

            write_atomic(plot, render_plot(plotted(analysis, result), out.headline(result), settings.train))
    except SpecError as e:
        fail(e)
    emit(text)
