"""Speed and scale of paramcalc, each reported as a ratio against a baseline measured in the same run.

    python benchmarks/bench.py [--torch-python PATH]

1. Answer time: `paramcalc analyze specs/resnet50.yaml --format json` as a fresh process, against
   a fresh Python that only starts (`python -c pass`), and against a Python that imports torch and
   builds ResNet-50 to count its parameters (the framework route), when such a Python is at hand
   (--torch-python, default: this one, if torch and torchvision import there).
2. Scale: analysing generated specs of 1,000 to 20,000 layers in this process, against
   loading the same text with PyYAML's libyaml loader (the floor: reading the file at all).

Times are medians of repeated runs; only ratios are meant to be compared across machines.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from paramcalc import analyze, parse_spec  # noqa: E402

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
TORCH_RESNET = ("import torch, torchvision; m = torchvision.models.resnet50(); "
                "print(sum(p.numel() for p in m.parameters()))")


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# Child processes may write bytecode, as an installed package has it; else every run recompiles.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def process(*args) -> callable:
    run = lambda: subprocess.run(args, check=True, capture_output=True, env=CHILD_ENV)  # noqa: E731
    run()  # warm-up: writes the bytecode, fills the OS file cache
    return run


def answer_time(torch_python: str | None, repeat: int) -> None:
    spec = str(ROOT / "specs" / "resnet50.yaml")
    startup = median_time(process(sys.executable, "-c", "pass"), repeat)
    ours = median_time(process(sys.executable, "-m", "paramcalc", "analyze", spec, "--format", "json"), repeat)
    table = median_time(process(sys.executable, "-m", "paramcalc", "analyze", spec), repeat)
    print("1. answer time for ResNet-50 (fresh process, median of", repeat, "runs)")
    print(f"   python -c pass                        {startup * 1000:8.1f} ms   (baseline)")
    print(f"   paramcalc analyze --format json       {ours * 1000:8.1f} ms   {ours / startup:5.1f}x interpreter start")
    print(f"   paramcalc analyze (rich table)        {table * 1000:8.1f} ms   {table / startup:5.1f}x interpreter start")
    if torch_python:
        framework = median_time(process(torch_python, "-c", TORCH_RESNET), max(3, repeat // 2))
        print(f"   torch + torchvision resnet50()        {framework * 1000:8.1f} ms   "
              f"paramcalc is {framework / ours:5.1f}x faster")
    else:
        print("   (no Python with torch and torchvision given: --torch-python PATH adds the framework route)")


def chain_spec(n: int) -> str:
    """n layers: conv/bn/relu triples on a small feature map, then a classifier."""
    layers = []
    for i in range(n // 3):
        layers += [f"  - conv2d: {{out: {16 + i % 3 * 16}, kernel: 3, padding: 1}}", "  - batchnorm2d", "  - relu"]
    layers += ["  - flatten", "  - linear: 10"]
    return "name: chain\ninput: [16, 8, 8]\nlayers:\n" + "\n".join(layers) + "\n"


def block_spec(n: int) -> str:
    """The same size written with a block and a repeat: expansion dominates."""
    return ("name: blocks\ninput: [16, 8, 8]\nblocks:\n  unit:\n    args: {w: 16}\n    layers:\n"
            "      - conv2d: {out: $w, kernel: 3, padding: 1}\n      - batchnorm2d\n      - relu\n"
            f"layers:\n  - repeat: {n // 3}\n    unit: {{w: 32}}\n  - flatten\n  - linear: 10\n")


def scale(repeat: int) -> None:
    print("2. scale (in process, median of", repeat, "runs)")
    print(f"   {'spec':<22}{'layers':>8}{'yaml only':>12}{'analyze':>12}{'ratio':>8}{'per layer':>12}")
    for make, label in ((chain_spec, "chain"), (block_spec, "block + repeat")):
        for n in (1_000, 5_000, 20_000):
            text = make(n)
            floor = median_time(lambda: yaml.load(text, Loader=LOADER), repeat)
            report = analyze(parse_spec(text, "<bench>"))
            ours = median_time(lambda: analyze(parse_spec(text, "<bench>")), repeat)
            rows = len(report.layers)
            print(f"   {label:<22}{rows:>8,}{floor * 1000:>10.1f}ms{ours * 1000:>10.1f}ms{ours / floor:>7.1f}x"
                  f"{ours / rows * 1e6:>10.1f}µs")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--torch-python", help="a Python with torch and torchvision, for the framework baseline")
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    torch_python = args.torch_python
    if torch_python is None and subprocess.run([sys.executable, "-c", "import torchvision"],
                                               capture_output=True).returncode == 0:
        torch_python = sys.executable
    answer_time(torch_python, args.repeat)
    scale(max(3, args.repeat // 3))


if __name__ == "__main__":
    main()
