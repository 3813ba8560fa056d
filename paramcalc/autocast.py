"""What torch.autocast does to a network's tensors: which layers run in 16 bits, what they keep. Pure.

Autocast runs the ops on its lower-precision list in 16 bits, casting their float32 inputs (a copy each,
which is what their backward keeps) and their float32 weights (copies cached for the forward pass and
kept by backward); it runs the ops on its float32 list in float32 (on CUDA: layer and group norm,
softmax, log-softmax; on the CPU these follow their input, as measured by tests/generate_peak_fixture.py);
every other op computes in the type its inputs promote to (a 16-bit tensor plus a float32 one is float32;
an embedding of float32 weights is float32). PyTorch's lists: aten/src/ATen/autocast_mode.cpp
(AT_FORALL_LOWER_PRECISION_FP, AT_FORALL_FP32; the CPU's in its own section). Each kind declares which
list its op is on as its `autocast` attribute (layers/base.py).

Pure 16-bit training (bf16, fp16) is every row at 16 bits, but for norms with `upcast`, which compute in
float32 as Hugging Face's do: pure_rows gives those rows.
"""

from __future__ import annotations

from .activations import Amp


def autocast_rows(report, layers, device: str, half: int = 2) -> list[Amp]:
    """Per row of the analysis, its widths under autocast to a 16-bit type (`half` bytes). A norm with
    `upcast` computes in float32 and keeps float32 tensors (a float32 copy of a 16-bit input)."""
    from .analysis import token_inputs

    last_row = {block.name: report.layers[block.last].name for block in report.blocks}
    width = {name: 4 for name in report.inputs}
    tokens = token_inputs(report, layers)
    rows = []
    for row, layer in zip(report.layers, layers):
        names = [n if n in width else last_row[n] for n in row.inputs]
        floats = [width[n] for n in names if n not in tokens]
        if layer.autocast == "lower":
            casts = tuple(i for i, n in enumerate(names) if width[n] == 4 and n not in tokens)
            amp = Amp(half, half, casts, row.params * half)
        elif getattr(layer, "upcast", False):
            out = max(max(floats, default=4), 4 if row.params else 0)  # float32 weight times the result
            amp = Amp(out, 4, tuple(i for i, n in enumerate(names) if width[n] != 4 and n not in tokens))
        elif layer.autocast == "float32_output" or (device == "cuda" and layer.autocast == "fp32_on_cuda"):
            amp = Amp(4, 4)
        else:
            out = max(floats, default=4)
            amp = Amp(out, out)
        width[row.name] = amp.out
        rows.append(amp)
    return rows


def pure_rows(layers, half: int = 2) -> list[Amp] | None:
    """Per row, its widths in pure 16-bit training: None (every row at 16 bits) unless a norm upcasts,
    keeping a float32 copy of its input and float32 statistics, and returning 16 bits."""
    if not any(getattr(layer, "upcast", False) for layer in layers):
        return None
    upcast = Amp(half, 4, (0,))
    plain = Amp(half, half)
    return [upcast if getattr(layer, "upcast", False) else plain for layer in layers]
