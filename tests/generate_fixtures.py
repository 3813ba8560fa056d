"""Regenerates tests/fixtures/layers.json: random layer cases measured by PyTorch.

    pip install torch==2.13.0 && python tests/generate_fixtures.py

Deterministic (fixed seed), so a rerun with the same torch gives the same file.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from torch_oracle import GQA, NEWER_KINDS, ORACLE_KINDS, SCALAR_CASES, measure, random_case  # noqa: E402

CASES_PER_KIND = {
    "conv1d": 30,
    "conv2d": 50,
    "conv3d": 25,
    "convtranspose1d": 20,
    "convtranspose2d": 30,
    "convtranspose3d": 15,
    "linear": 20,
    "flatten": 12,
    "upsample": 25,
    "reshape": 10,
    "layernorm": 12,
    "rnn": 15,
    "lstm": 25,
    "gru": 15,
    "multiheadattention": 30,
    "transformerencoderlayer": 15,
    "transformerdecoderlayer": 15,
    "embedding": 10,
    GQA: 60,
    "matmul": 25,
    "bmm": 8,
    "buffer": 6,
    "layernorm2d": 10,
    "attention": 60,
    "router": 12,
    "experts": 24,
    "mambamixer": 12,
}
DEFAULT_CASES = 6
MERGE_CASES = 10
OUT = Path(__file__).parent / "fixtures" / "layers.json"


def main() -> None:
    rng = random.Random(20261126)
    torch.manual_seed(0)
    cases = []
    for kind in ORACLE_KINDS:
        count = CASES_PER_KIND.get(
            kind,
            MERGE_CASES
            if kind in ("add", "mul", "concat", "split", "chunk", "mean")
            else 15
            if "pool" in kind or "batchnorm" in kind
            else 8
            if kind in NEWER_KINDS
            else DEFAULT_CASES,
        )
        for _ in range(count):
            case = random_case(kind, rng)
            cases.append({**case, "expected": measure(case)})
    cases += [{**case, "expected": measure(case)} for case in SCALAR_CASES]
    OUT.write_text(json.dumps({"torch": torch.__version__, "cases": cases}, indent=1) + "\n")
    errors = sum("error" in c["expected"] for c in cases)
    print(f"{len(cases)} cases ({errors} that torch rejects) -> {OUT}")


if __name__ == "__main__":
    main()
