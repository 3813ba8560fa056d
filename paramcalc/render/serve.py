"""`paramcalc memory --serve`'s output: weights, KV cache and activation peak, the cache's sizes and the
verdict; exact bytes in JSON."""

from __future__ import annotations

from . import human
from .memory import printable

LABELS = {"parameters": "weights", "kv_cache": "KV cache", "activations": "activations (peak)"}


def _bytes(n: int) -> str:
    return human(n, "B", binary=True)


def _sequences(n: int) -> str:
    return f"{n:,} sequence" + ("" if n == 1 else "s")


def headline(result) -> str:
    s = result.settings
    parts = [printable(result.name), "serve", f"{s['weights']} weights"]
    if s["weights"] in ("gptq-int4", "gptq-int8", "awq-int4"):
        parts[-1] += f" (group {s['group_size']})"
    parts += [f"{s['kv_dtype']} KV cache", f"{s['seq']:,}-token sequences", f"blocks of {s['block_size']}"]
    parts.append(f"prefill chunks of {s['prefill_tokens']:,}")
    if s["tp"] > 1:
        parts.append(f"TP {s['tp']}: per device")
    return " · ".join(parts)


def notes(result) -> list[str]:
    s = result.settings
    blocks = result.kv_cache_per_sequence // result.kv_cache_per_block if result.kv_cache_per_block else 0
    layouts = ", ".join(f"{n} {layout}" for layout, n in result.layouts.items())
    lines = [
        f"KV cache: {_bytes(result.kv_cache_per_token)} a token, {_bytes(result.kv_cache_per_block)} a block, "
        f"{_bytes(result.kv_cache_per_sequence)} a sequence ({blocks:,} blocks); layers: {layouts}",
        f"activations: prefill chunk of {s['prefill_tokens']:,} tokens {_bytes(result.prefill_peak)}, "
        f"decode step of {_sequences(s['concurrency'])} {_bytes(result.decode_peak)} (last position's logits"
        + ("; whole, not split by TP" if s["tp"] > 1 else "")
        + ")",
    ]
    if result.budget is None:
        lines.append(f"{_sequences(s['concurrency'])} at once need {_bytes(result.total)} ({result.total:,} bytes)")
        return lines
    share = f"{s['gpu_memory_utilization']:g} of {_bytes(s['gpu'])}"
    if not result.max_sequences:
        lines.append(f"does not fit: not one sequence of {s['seq']:,} tokens in {_bytes(result.budget)} ({share})")
    elif s["concurrency"] != result.max_sequences:
        verdict = (
            ("fit" if result.fits else "do not fit")
            if s["concurrency"] != 1
            else ("fits" if result.fits else "does not fit")
        )
        lines.append(
            f"{_sequences(s['concurrency'])} at once {verdict} in {_bytes(result.budget)} ({share}); "
            f"at most {result.max_sequences:,}"
        )
    else:
        lines.append(
            f"fits {_sequences(result.max_sequences)} of {s['seq']:,} tokens at once in {_bytes(result.budget)} "
            f"({share}; a pool of {result.kv_blocks:,} blocks)"
        )
    return lines


def render_serve_table(result, screen=None) -> str:
    from .table import Column, detect_screen, draw, lay_out

    screen = screen or detect_screen()
    columns = [
        Column("component", "component", lambda key: LABELS[key], lambda r: "total"),
        Column("bytes", "bytes", lambda key: f"{result.components[key]:,}", lambda r: f"{r.total:,}", align="right"),
        Column("human", "", lambda key: _bytes(result.components[key]), lambda r: _bytes(r.total), align="right"),
    ]
    grid = lay_out(columns, list(LABELS), result, screen)
    tail = notes(result)
    return draw(grid, headline(result), tail, screen)


def render(result, fmt: str) -> str:
    if fmt == "json":
        from .json import to_json

        return to_json(result.to_dict())
    return render_serve_table(result)
