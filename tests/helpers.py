"""Shared by the tests: a single-layer spec from an oracle case, and running the real CLI."""

from __future__ import annotations

import subprocess
import sys

import yaml

from paramcalc import analyze, parse_spec


def case_spec_text(case: dict) -> str:
    """The YAML spec of one oracle case: its inputs and one layer of its kind."""
    layer = {case["kind"]: dict(case["fields"]) or None}
    if not case["inputs"]:  # a source (parameter): the spec still needs an input, which it ignores
        doc = {"input": [1], "layers": [layer]}
    elif len(case["inputs"]) == 1:
        doc = {"input": case["inputs"][0], "layers": [layer]}
    else:
        names = [f"x{i}" for i in range(len(case["inputs"]))]
        doc = {"inputs": dict(zip(names, case["inputs"])), "layers": [{**layer, "from": names}]}
    return yaml.safe_dump(doc, sort_keys=False)


def analyze_case(case: dict):
    """paramcalc's counts for a case, keyed like the oracle's."""
    report = analyze(parse_spec(case_spec_text(case), "<case>"))
    rows = report.layers  # several for a composite kind (a transformer layer)
    return {
        "output_shape": rows[-1].output_shape,
        "weights": sum(r.weights for r in rows),
        "bias": sum(r.bias for r in rows),
        "buffers": sum(r.buffers for r in rows),
        "macs": sum(r.macs for r in rows),
    }


def run_cli(*args, stdin: str | None = None, env=None):
    """The real entry point, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "paramcalc", *args], input=stdin, capture_output=True, text=True, env=env, timeout=180
    )
