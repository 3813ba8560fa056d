"""Shared by the tests: a single-layer spec from an oracle case, and running the real CLI."""

from __future__ import annotations

import subprocess
import sys

import yaml

from paramcalc import analyze, parse_spec


def case_spec_text(case: dict) -> str:
    """The YAML spec of one oracle case: its inputs and one layer of its kind."""
    layer = {case["kind"]: dict(case["fields"]) or None}
    if len(case["inputs"]) == 1:
        doc = {"input": case["inputs"][0], "layers": [layer]}
    else:
        names = [f"x{i}" for i in range(len(case["inputs"]))]
        doc = {"inputs": dict(zip(names, case["inputs"])), "layers": [{**layer, "from": names}]}
    return yaml.safe_dump(doc, sort_keys=False)


def analyze_case(case: dict):
    """paramcalc's counts for a case, keyed like the oracle's."""
    row = analyze(parse_spec(case_spec_text(case), "<case>")).layers[0]
    return {"output_shape": row.output_shape, "weights": row.weights, "bias": row.bias,
            "buffers": row.buffers, "macs": row.macs}


def run_cli(*args, stdin: str | None = None, env=None):
    """The real entry point, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "paramcalc", *args], input=stdin, capture_output=True,
                          text=True, env=env, timeout=60)
