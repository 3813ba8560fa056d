"""Deterministic tensors by name, shared by generate_export_fixture.py (torchvision, in its own venv)
and test_export.py (the exported module, under the CI's torch): filling two models with the same
state_dict keys the same way and feeding them the same input must give the same output.

Values come from float64 sines of the key's CRC, not from torch's RNG, so they do not depend on the
torch version. Scales keep activations of deep networks finite (kaiming-like weights, norm scales near 1,
positive running variances).
"""

from __future__ import annotations

import math
import zlib

CHUNK = 1 << 22  # elements per slice: a big tensor never has a float64 twin (vgg16's fc6 alone is 103 M)


def wave(n: int, seed: int, start: int = 0):
    """Elements start..n-1 of the sequence for `seed` (elementwise, so slices equal the whole)."""
    import torch

    k = torch.arange(start, n, dtype=torch.float64)
    return torch.sin(k * k * 1e-3 + k * 1.3 + seed / 2**32 * 2 * math.pi)


def fill(model, names=None) -> None:
    """Overwrites every floating-point parameter and buffer of `model` by its state_dict key, or by
    `names[key]` (another model's key for the same tensor)."""
    import torch

    with torch.no_grad():
        for key, tensor in model.state_dict(keep_vars=True).items():
            if not tensor.is_floating_point():
                continue
            key = names[key] if names else key
            seed, leaf = zlib.crc32(key.encode()), key.rsplit(".", 1)[-1]
            flat, n = tensor.view(-1), tensor.numel()
            for start in range(0, n, CHUNK):
                w = wave(min(n, start + CHUNK), seed, start)
                if leaf == "running_var":
                    w = 1 + 0.5 * w.abs()
                elif leaf == "running_mean":
                    w = 0.1 * w
                elif tensor.ndim >= 2:
                    w = w * math.sqrt(4 / (n // tensor.shape[0]))
                elif "bias" in leaf:
                    w = 0.05 * w
                else:
                    w = 1 + 0.1 * w
                flat[start : start + len(w)].copy_(w.to(tensor.dtype))


def example_input(shape: list[int], batch: int = 2):
    """A fixed batch of images: sines, different per sample."""
    import torch

    n = math.prod(shape)
    return torch.stack([wave(n, 12345 + i).reshape(shape) for i in range(batch)]).float()
