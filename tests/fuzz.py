"""A seeded fuzzer for the whole CLI, as an attacker and a fuzzer would try it (issue 8).

Cases are generated from a seed (the same seed gives the same cases), in families: mutated zoo
specs, random YAML, inline layers, ${...} expressions, budgets, diff pairs, paths, and names with
control characters, markup and workflow commands. Each case runs the real CLI (typer app) in a
worker subprocess with a memory limit (RLIMIT_AS) and a time limit per case; a worker runs many
cases, and a hang, a crash or a blown memory limit is attributed to the case that caused it.

Every case must end in exit 0/1 with output, or exit 2 with one message; never a traceback, a
hang or a blown memory limit; and no output holds a raw control character or a workflow command
(`::name ...::`) that paramcalc did not write itself.

    python tests/fuzz.py                   # 3,000 cases, as the suite does (tests/test_fuzz.py)
    python tests/fuzz.py --cases 50000     # the long run
    python tests/fuzz.py --seed 7 --cases 1000 --workers 2 --show 5
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASE_SECONDS = 20  # CPU seconds; a case slower is a hang (a 100,000-layer spec takes a few)
MEMORY_BYTES = 1536 * 2**20  # a worker's address space; a case needing more has blown up

BASE_SPECS = ["lenet5", "lstm_lm", "dcgan_generator", "unet_small", "alexnet", "resnet18", "gpt2", "vgg16"]

# What an attacker writes: control characters, markup, workflow commands, formula starts, HTML.
INJECTIONS = [
    "\x1b]0;owned\x07",
    "\x1b[2J",
    "\x1b]8;;http://x\x1b\\",
    "a\nb",
    "a\r\nb",
    "\u2028",
    "\u2029",
    "\x85",
    "\u202e",
    "\x00",
    "\t",
    "\x7f",
    "\n::error::FORGED",
    "\n::warning file=x::FORGED",
    "\r::notice::FORGED",
    "%0A::error::FORGED",
    "[bold]",
    "[/]",
    "[link=javascript:alert(1)]x[/link]",
    '[link=x"><img src=x onerror=alert(1)>]',
    "<img src=x onerror=alert(1)>",
    "=1+2",
    "+cmd",
    "-2+3",
    "@SUM(A1)",
    "|",
    "`",
    "**",
    ":smile:",
    "\\",
    "'",
    '"',
    "${",
    "}",
    "é",
    "×",
    "\ufeff",
    # the runner's older command form, anywhere in a line, and through ignorable characters
    "##[error]FORGED",
    "x ##[set-output name=verdict;]pass",
    "##[stop-commands]tok",
    "#\u034f#[warning]FORGED",
    "#\u200b#[add-mask]x",
    "\u034f::error::FORGED",
    # Mermaid directives and comments, Markdown mentions
    "%%{init: {'securityLevel': 'loose'}}%%",
    "%%{init:{'theme':'dark'}}%%",
    "%%",
    "@octocat",
    "@org/team",
    "a\\|<img/src=x/onerror=alert(1)>",
]

YAML_TOKENS = [
    "${9**9**9}",
    "${'a'*10**9}",
    "${" + "(" * 300 + "1" + ")" * 300 + "}",
    "${" + "-" * 2000 + "1}",
    "${~1}",
    "${x[0]}",
    "${min()}",
    "${1/0}",
    "${10**18}",
    "${2**59}",
    "&a",
    "*a",
    "*b",
    "&b [*a, *a]",
    "<<: *a",
    "!!int",
    "!!int ''",
    "!!float x",
    "!!timestamp",
    "2001-02-30",
    "!!binary x",
    "!!set",
    "!!python/object:os.system",
    "!!omap",
    "9" * 5000,
    "1e400",
    ".nan",
    "-.inf",
    "0x10",
    "0o7",
    "1_000",
    "repeat: 1000000000",
    "when: false",
    "from: [a, a, a]",
    "tie: x",
    "freeze: 3",
    "---",
    "...",
    "? [a]",
    "{a: 1, a: 2}",
    "[[[[[[[[[[",
    "}}}}",
    "'unterminated",
    '"\\x1b"',
    '"\\u2028"',
    "\t",
    "\r\n",
    "- ",
    ": ",
    "#",
    "%YAML 1.1",
    "%TAG ! tag:x,2000:",
    "!x",
    "null",
    "~",
    "true",
    "yes",
    "-1",
    "0",
    "3x3",
    "same",
    "valid",
    "[3, 224, 224]",
    "{out: 8, kernel: 3}",
    "layers:",
    "blocks:",
    "budget:",
    "inputs: {a: [3], b: [3]}",
    "outputs: [a]",
    'name: "\\e]0;x\\a"',
]

KINDS = [
    "conv2d",
    "linear",
    "relu",
    "flatten",
    "maxpool2d",
    "batchnorm2d",
    "embedding",
    "lstm",
    "add",
    "concat",
    "dropout",
    "layernorm",
    "conv1d",
    "avgpool2d",
    "adaptiveavgpool2d",
    "transformer_encoder_layer",
    "multiheadattention",
    "parameter",
    "conv_transpose2d",
    "nosuchkind",
]
FIELDS = [
    "out",
    "kernel",
    "stride",
    "padding",
    "groups",
    "bias",
    "in_channels",
    "dim",
    "heads",
    "hidden",
    "num_embeddings",
    "p",
    "start_dim",
    "dilation",
    "shape",
    "eps",
    "name",
    "from",
    "when",
    "repeat",
    "first",
    "freeze",
    "tie",
    "xyz",
]
EXPR_ATOMS = [
    "w",
    "h",
    "1",
    "2",
    "3",
    "0",
    "-1",
    "1.5",
    "10**17",
    "2**62",
    "9",
    "'a'",
    "[1, 2]",
    "true",
    "null",
    "missing",
    "1e308",
    "int(2.5)",
    "round(2.5)",
    "max(w, 2)",
    "min(w)",
]
EXPR_OPS = ["+", "-", "*", "/", "//", "%", "**", "==", "<", ">=", "and", "or", "if w else"]
AMOUNTS = [
    "25M",
    "4.5G",
    "1e400",
    "inf",
    "nan",
    "-1",
    "0",
    "1.5",
    "1.25K",
    "9" * 5000,
    "100MiB",
    "1.5GiB",
    "10KB",
    "",
    " ",
    "1,000",
    "1_000",
    "0.1",
    "1T",
    "1000000T",
    "1e3",
    "M",
    "9" * 40,
    "١٢",
    "\x1b[31m1M",
]


def _text(rng: random.Random, n: int = 8) -> str:
    pool = "abcxyz_019.-[]/<>`|=+@:,{}()$ \\'\""
    return "".join(rng.choice(pool) for _ in range(rng.randint(0, n)))


def _name(rng: random.Random) -> str:
    parts = [rng.choice(["a", "conv", "x" * rng.choice([1, 60, 200, 600]), _text(rng, 4)])]
    if rng.random() < 0.6:
        parts.insert(rng.randint(0, 1), rng.choice(INJECTIONS))
    return "".join(parts)


def _yaml_str(text: str) -> str:
    """A YAML double-quoted scalar holding any text (escapes for every control character)."""
    return json.dumps(text)


def _mutate(rng: random.Random, text: str) -> str:
    lines = text.splitlines()
    for _ in range(rng.randint(1, 4)):
        if not lines:
            lines = [""]
        i = rng.randrange(len(lines))
        choice = rng.random()
        if choice < 0.25:
            del lines[i]
        elif choice < 0.45:
            lines.insert(i, lines[rng.randrange(len(lines))])
        elif choice < 0.75:
            line = lines[i]
            at = rng.randint(0, len(line))
            lines[i] = line[:at] + rng.choice(YAML_TOKENS + INJECTIONS) + line[at + rng.randint(0, 3) :]
        elif choice < 0.9:
            m = list(re.finditer(r"\b\d+\b", lines[i]))
            if m:
                g = rng.choice(m)
                lines[i] = (
                    lines[i][: g.start()]
                    + rng.choice(["0", "-3", "5000", "9" * 30, "1000000000", "2.5", "${w*2}", "1e400"])
                    + lines[i][g.end() :]
                )
        else:
            line = lines[i]
            at = rng.randint(0, len(line))
            lines[i] = line[:at] + chr(rng.randrange(0, 0x3000)) + line[at:]
    return "\n".join(lines) + rng.choice(["\n", "", "\r\n"])


def _expr(rng: random.Random, depth: int = 0) -> str:
    if depth > 3 or rng.random() < 0.3:
        return rng.choice(EXPR_ATOMS)
    op = rng.choice(EXPR_OPS)
    a, b = _expr(rng, depth + 1), _expr(rng, depth + 1)
    if op == "if w else":
        return f"({a} if w else {b})"
    if rng.random() < 0.2:
        return f"{rng.choice(['-', 'not ', '+'])}({a})"
    return f"({a} {op} {b})"


def _random_value(rng: random.Random, depth: int = 0):
    r = rng.random()
    if depth > 2 or r < 0.5:
        return rng.choice(
            [0, 1, 3, 8, -1, 2.5, True, None, "same", "3x3", "input", "$w", "${w * 2}", _name(rng), 10**20, [3, 3], "a"]
        )
    if r < 0.75:
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {rng.choice(FIELDS): _random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))}


def _random_layer(rng: random.Random):
    kind = rng.choice(KINDS)
    if rng.random() < 0.2:
        return kind
    fields = {rng.choice(FIELDS): _random_value(rng) for _ in range(rng.randint(0, 4))}
    return {kind: fields or None}


def _dump(doc, rng) -> str:
    import yaml

    return yaml.safe_dump(doc, allow_unicode=rng.random() < 0.5, sort_keys=False)


# ------------------------------------------------------------------ the families


def family_yaml_mutation(rng):
    base = (ROOT / "specs" / f"{rng.choice(BASE_SPECS)}.yaml").read_text()
    args = rng.choice(
        [
            ["analyze", "{spec}", "-f", "json"],
            ["analyze", "{spec}", "-f", "csv"],
            ["analyze", "{spec}", "-f", "markdown"],
            ["check", "{spec}", "-f", "github"],
            ["check", "{spec}"],
            ["analyze", "{spec}", "-f", "json", "-d", "2"],
        ]
    )
    return args, {"spec.yaml": _mutate(rng, base).encode("utf-8", "surrogatepass")}


def family_random_yaml(rng):
    if rng.random() < 0.5:
        doc = {
            "input": rng.choice([[3, 16, 16], [8], [4, 8], "3x8x8", [0], [10**30], []]),
            "layers": [_random_layer(rng) for _ in range(rng.randint(1, 5))],
        }
        if rng.random() < 0.4:
            doc["blocks"] = {
                rng.choice(["b", "blk", "relu", _name(rng)]): {
                    "args": {"w": rng.choice([8, None, 2.5])},
                    "layers": [_random_layer(rng) for _ in range(2)],
                }
            }
            doc["layers"].append({"b": {"w": rng.choice([4, "${w}", None])}})
        text = _dump(doc, rng)
    else:  # token soup
        text = "\n".join(
            " " * rng.choice([0, 2, 4])
            + " ".join(rng.choice(YAML_TOKENS + ["a:", "- b", "c: 1"]) for _ in range(rng.randint(1, 4)))
            for _ in range(rng.randint(1, 8))
        )
    return ["analyze", "{spec}", "-f", rng.choice(["json", "table"])], {
        "spec.yaml": text.encode("utf-8", "surrogatepass")
    }


def family_inline(rng):
    kind = rng.choice(KINDS + [_name(rng)])
    parts = []
    for _ in range(rng.randint(0, 3)):
        value = rng.choice(
            [
                "8",
                "3",
                "(3, 3)",
                "3x3",
                "same",
                "true",
                "-1",
                "'s'",
                "9" * rng.choice([5, 5000]),
                "(" * 60 + "1" + ")" * 60,
                "[" * 40 + "1" + "]" * 40,
                "-'a'",
                "b'x'",
                "1j",
                "...",
                "**{}",
                "lambda: 0",
                "x.y",
                _text(rng, 6),
                "-" * 50 + "1",
            ]
        )
        parts.append(value if rng.random() < 0.3 else f"{rng.choice(FIELDS)}={value}")
    layer = f"{kind}({', '.join(parts)})" if rng.random() < 0.9 else _text(rng, 20) + rng.choice(INJECTIONS)
    layers = ["-l", layer] + (["-l", rng.choice(["relu", "flatten", "linear(10)"])] if rng.random() < 0.5 else [])
    shape = rng.choice(["3x16x16", "8", "4x8", "0", "3x" + "9" * 30, "x", "3,16,16", "1x" * 70 + "1"])
    return ["analyze", "-i", shape, *layers, "-f", rng.choice(["json", "table", "csv"])], {}


def family_expressions(rng):
    expr = _expr(rng) if rng.random() < 0.6 else rng.choice([t for t in YAML_TOKENS if t.startswith("${")])[2:-1]
    field = rng.choice(["out", "kernel", "when", "repeat", "name", "stride"])
    doc = {
        "input": [3, 16, 16],
        "blocks": {
            "b": {
                "args": {"w": rng.choice([8, 2, 0, 10**17, "a"]), "h": 3},
                "layers": [{"conv2d": {"out": 4, "kernel": 1, field: "${" + expr + "}"}}],
            }
        },
        "layers": [{"b": {"w": rng.choice([4, 16, "${1}", None])}}, "flatten"],
    }
    if rng.random() < 0.3:
        doc["layers"].insert(0, {"repeat": "${" + expr + "}", "relu": None})
    return ["analyze", "{spec}", "-f", "json"], {"spec.yaml": _dump(doc, rng).encode()}


def family_budgets(rng):
    flags = []
    for _ in range(rng.randint(0, 3)):
        flags += [
            rng.choice(
                [
                    "--max-params",
                    "--max-macs",
                    "--max-param-bytes",
                    "--max-trainable",
                    "--expect-params",
                    "--expect-output",
                ]
            ),
            rng.choice(AMOUNTS + ["10", "3x3", "[10]"]),
        ]
    spec = (ROOT / "specs" / f"{rng.choice(BASE_SPECS[:5])}.yaml").read_text()
    if rng.random() < 0.6:
        key = rng.choice(["max_params", "max_macs", "max_param_bytes", "expect_output", "expect_params", "max_xyz"])
        value = rng.choice(AMOUNTS + [10, 10**40, 1e400, float("nan"), 2.5e7, 1e-3, True, None, [10], "1e9"])
        value_text = (
            json.dumps(value)
            if not isinstance(value, float) or value == value and abs(value) != float("inf")
            else rng.choice([".nan", ".inf", "1e400"])
        )
        spec += f"budget:\n  {key}: {value_text}\n"
    fmt = rng.choice(["table", "json", "github"])
    return ["check", "{spec}", *flags, "-f", fmt] + (["-q"] if rng.random() < 0.2 else []), {"spec.yaml": spec.encode()}


def family_diff(rng):
    a = (ROOT / "specs" / f"{rng.choice(BASE_SPECS)}.yaml").read_text()
    b = _mutate(rng, a) if rng.random() < 0.7 else (ROOT / "specs" / f"{rng.choice(BASE_SPECS)}.yaml").read_text()
    if rng.random() < 0.4:
        b = (
            b.replace("name: ", f"name: {_yaml_str(_name(rng))}\nx_: ", 1)
            if "name: " in b
            else f"name: {_yaml_str(_name(rng))}\n" + b
        )
        b = b.replace("\nx_: ", "\n# ", 1)
    fmt = rng.choice(["table", "json", "markdown"])
    return ["diff", "{old}", "{spec}", "-f", fmt] + (["--all"] if rng.random() < 0.3 else []), {
        "old.yaml": a.encode(),
        "spec.yaml": b.encode("utf-8", "surrogatepass"),
    }


def family_paths(rng):
    good = (ROOT / "specs" / "lenet5.yaml").read_bytes()
    kind = rng.choice(
        [
            "missing",
            "dir",
            "long",
            "nul",
            "latin1",
            "bom",
            "crlf",
            "binary",
            "empty",
            "fifo",
            "devnull",
            "loop",
            "outside",
            "glob",
            "weird_name",
            "export_dev",
            "export_dir",
            "huge",
        ]
    )
    files: dict[str, bytes] = {}
    spec = "{spec}"
    extra: list[str] = []
    if kind == "missing":
        spec = "{dir}/nope.yaml"
    elif kind == "dir":
        spec = "{dir}"
    elif kind == "long":
        spec = "{dir}/" + "a" * rng.choice([300, 5000]) + ".yaml"
    elif kind == "nul":
        files["spec.yaml"] = good[:50] + b"\0" + good[50:]
    elif kind == "latin1":
        files["spec.yaml"] = b"name: caf\xe9\n" + good
    elif kind == "bom":
        files["spec.yaml"] = b"\xef\xbb\xbf" + good
    elif kind == "crlf":
        files["spec.yaml"] = good.replace(b"\n", b"\r\n")
    elif kind == "binary":
        files["spec.yaml"] = bytes(rng.randrange(256) for _ in range(200))
    elif kind == "empty":
        files["spec.yaml"] = b""
    elif kind == "fifo":
        files["@fifo:spec.yaml"] = b""
    elif kind == "devnull":
        spec = "/dev/null"
    elif kind == "loop":
        files["@link:a"] = b"."
        files["@link:b"] = b"."
        files["spec.yaml"] = good
        spec = "{dir}"
    elif kind == "outside":
        files["@link:evil.yaml"] = b"/etc/passwd"
        files["spec.yaml"] = good
        spec = "{dir}"
    elif kind == "glob":
        files["spec.yaml"] = good
        spec = "{dir}/*.y*ml"
    elif kind == "weird_name":
        name = "s" + rng.choice(INJECTIONS).replace("\0", "").replace("/", "") + ".yaml"
        files[name] = good
        spec = "{dir}"
    elif kind == "export_dev":
        files["spec.yaml"] = good
        # Non-regular targets inside the work directory only: a regression must not replace /dev/null.
        target = rng.choice(["fifo", "dir", "link"])
        files["@fifo:out.fifo" if target == "fifo" else "@link:out.link"] = b"spec.yaml"
        extra = [
            rng.choice(["--save-svg", "--save-html"]),
            {"fifo": "{dir}/out.fifo", "dir": "{dir}", "link": "{dir}/out.link"}[target],
        ]
    elif kind == "export_dir":
        files["spec.yaml"] = good
        extra = ["--save-html", "{dir}/no/such/dir/x.html"]
    elif kind == "huge":
        files["@huge:spec.yaml"] = b""
    command = "check" if spec == "{dir}" or kind == "glob" else "analyze"
    if extra and command == "check":
        extra = []
    return [command, spec, *extra], files


PRINTABLE_INJECTIONS = [t for t in INJECTIONS if all(ch == " " or ch.isprintable() for ch in t)] + [
    "::error::FORGED",
    "x::warning::y",
    "%0A::error::x",
]


def family_names(rng):
    """Names that reach the renderers: printable attacks (markup, HTML, formulas, `|`) are valid
    names and must come out escaped; control characters must be refused with a message."""

    def name(valid_only=False):
        pool = PRINTABLE_INJECTIONS if valid_only or rng.random() < 0.7 else INJECTIONS
        text = rng.choice(["", "a", "conv"]) + rng.choice(pool) + rng.choice(["", "b", "x" * rng.choice([1, 130])])
        return text.replace(" ", "_").replace(".", "_") if rng.random() < 0.8 else text

    block = name()
    layers = [
        {"conv2d": {"out": 4, "kernel": 1, "name": name()}},
        {block: {"name": name()}},
        {"relu": {"name": name(), **({name(): 1} if rng.random() < 0.15 else {})}},
        "flatten",
        {"linear": {"out": 2, **({"tie": name()} if rng.random() < 0.15 else {})}},
    ]
    doc = {"input": [3, 8, 8], "blocks": {block: {"layers": [{"relu": {"name": name()}}]}}, "layers": layers}
    if rng.random() < 0.3:
        doc.pop("input")
        doc["inputs"] = {name(): [3, 8, 8]}
        layers[0]["conv2d"]["from"] = next(iter(doc["inputs"]))
    files = {"old.yaml": (ROOT / "specs" / "lenet5.yaml").read_bytes()}
    if rng.random() < 0.5:
        doc = {"name": name(valid_only=rng.random() < 0.8), **doc}
        spec = "{spec}"
        files["spec.yaml"] = _dump(doc, rng).encode("utf-8", "surrogatepass")
    else:  # the name comes from the file's name
        stem = "s" + rng.choice(INJECTIONS).replace("\0", "").replace("/", "").replace("\x00", "")
        spec = "{dir}/" + stem + ".yaml"
        files[stem + ".yaml"] = _dump(doc, rng).encode("utf-8", "surrogatepass")
    fmt = rng.choice(["table", "json", "csv", "markdown"])
    args = rng.choice(
        [
            ["analyze", spec, "-f", fmt],
            ["analyze", spec, "-f", fmt],
            ["check", spec, "-f", "github"],
            ["check", spec],
            ["check", "{dir}", "-f", "github"],
            ["analyze", spec, "--save-html", "{dir}/out.html", "-f", "json"],
            ["diff", "{old}", spec, "-f", rng.choice(["table", "markdown", "json"])],
        ]
    )
    return args, files


def _hostile_spec(rng) -> tuple[str, dict[str, bytes]]:
    """A spec to render: hostile names (as family_names makes them), or a mutated zoo spec."""
    if rng.random() < 0.6:
        files = family_names(rng)[1]
        return "{dir}/" + next(name for name in files if name != "old.yaml"), files
    base = (ROOT / "specs" / f"{rng.choice(BASE_SPECS)}.yaml").read_text()
    return "{spec}", {"spec.yaml": _mutate(rng, base).encode("utf-8", "surrogatepass")}


def family_pictures(rng):
    """Every text format a spec's names reach: Mermaid, DOT, Markdown (and the table, CSV, JSON)."""
    spec, files = _hostile_spec(rng)
    fmt = rng.choice(["mermaid", "mermaid", "dot", "markdown", "md", "table", "csv", "json"])
    return ["analyze", spec, "-f", fmt] + (["-d", "1"] if rng.random() < 0.3 else []), files


def family_export(rng):
    """`export`: the Python it writes must compile, whatever the names."""
    if rng.random() < 0.5:
        spec, files = _hostile_spec(rng)
    else:
        spec, files = "{spec}", family_expressions(rng)[1]
    return ["export", spec], files


def family_memory(rng):
    spec, files = _hostile_spec(rng)
    flags = []
    for _ in range(rng.randint(0, 3)):
        flags += rng.choice(
            [
                ["--inference"],
                ["--batch", rng.choice(["1", "64", "0", "99999999999999999999"])],
                ["--precision", rng.choice(["bf16-mixed", "fp16", "int3", "fp32"])],
                ["--optimizer", rng.choice(["adamw", "sgd", "x##[error]y"])],
                ["--zero", rng.choice(["1", "3", "9"]), "--devices", rng.choice(["8", "0"])],
                ["--kv-cache", rng.choice(["1024", "0"])],
                ["--checkpoint"],
            ]
        )
    if rng.random() < 0.3:  # the picture: its names in XML (drawn last, so the cases before it stay as they were)
        flags += ["--plot", "{dir}/plot.svg"]
    return ["memory", spec, *flags, "-f", rng.choice(["table", "json"])], files


HF_KEYS = {
    "hidden_size": [64, 4096, 4095, 0, -1, 10**12, 2**21, "4096", 1.5, None, [64], True],
    "num_attention_heads": [8, 32, 5, 0, 10**6, "8", None],
    "num_key_value_heads": [8, 4, 3, None],
    "head_dim": [8, 128, None, 0],
    "num_hidden_layers": [1, 2, 10**5, 0, None],
    "intermediate_size": [256, 10**15, 11008, None, {"a": 1}],
    "vocab_size": [100, 32000, 10**12, 2**24 + 1, None],
    "max_position_embeddings": [64, 10**12, 2048, None],
    "rms_norm_eps": [1e-6, 0, -1, 2, "1e-6", True],
    "layer_norm_eps": [1e-12, 1e400, 0.5],
    "hidden_act": ["silu", "gelu", "nope", ["silu"], {"a": "b"}, 3, "##[error]x"],
    "tie_word_embeddings": [True, False, "yes", 1],
    "n_embd": [64, 65, 10**9],
    "n_head": [4, 3],
    "n_layer": [2],
    "n_positions": [32, 10**12],
    "d_model": [64],
    "d_kv": [8],
    "num_heads": [8],
    "d_ff": [128],
    "num_layers": [2],
    "feed_forward_proj": ["relu", "gated-gelu", ["x"]],
    "image_size": [32, 33],
    "patch_size": [8, 0],
    "id2label": [{"0": "a"}, [1], "x"],
}
HF_TYPES = ["llama", "mistral", "qwen2", "gemma", "gpt2", "bert", "t5", "vit", "llamma", ["llama"], None, 3, "@octocat"]


def family_hf(rng):
    """`import hf` on hostile configs: types, sizes, nesting, number syntax, file kinds."""
    shape = rng.random()
    if shape < 0.65:
        config = {"model_type": rng.choice(HF_TYPES)}
        for key in rng.sample(list(HF_KEYS), rng.randint(3, 12)):
            config[key] = rng.choice(HF_KEYS[key])
        text = json.dumps(config)
        if rng.random() < 0.3:  # number syntax JSON allows (and some it does not)
            text = text[:-1] + ', "x": ' + rng.choice(["1e999", "NaN", "-Infinity", "9" * 5000, "1" * 19]) + "}"
        data = text.encode()
    elif shape < 0.75:
        depth = rng.choice([10, 33, 5000, 200000])
        data = ('{"model_type": "llama", "a": ' + "[" * depth + "]" * depth + "}").encode()
    elif shape < 0.85:
        data = _mutate(
            rng,
            json.dumps(
                {"model_type": "gpt2", "n_embd": 64, "n_head": 4, "n_layer": 2, "n_positions": 32, "vocab_size": 100},
                indent=1,
            ),
        ).encode("utf-8", "surrogatepass")
    else:
        data = rng.choice([b"", b"[]", b"null", b"\xff\xfe{}", b'{"model_type": "llama"' + b" " * 10, b"\0{}"])
    files = {"config.json": data}
    if rng.random() < 0.05:
        files = {"@huge:config.json": b""}
    seq = ["--seq", rng.choice(["16", "0", str(2**24 + 1), "99999999999999999999"])] if rng.random() < 0.3 else []
    return ["import", "hf", "{dir}/config.json", *seq], files


TORCH_MODULE = """import torch
from pathlib import Path

Path("RAN_%s").write_text("the working directory's module ran")


def build():
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), torch.nn.ReLU())
"""


def family_torch(rng):
    """`verify` and `import torch` with the working directory's own modules: a dotted MODULE never
    runs one (it writes RAN_dotted if it does); a path does. Inputs as large as a spec may state."""
    name = rng.choice(["torchvision", "m", "models"])
    files = {
        f"{name}.py": (TORCH_MODULE % "dotted").encode(),
        "local.py": (TORCH_MODULE % "path").encode(),
    }
    if name == "torchvision":  # a package, as a pull request would add it
        files["torchvision/__init__.py"] = files.pop("torchvision.py")
    target = rng.choice([f"{name}:build", f"{name}.sub:build", "./local.py:build", "local.py:build", "local.py:nope"])
    shape = rng.choice(["3x8x8", "3x50000x50000", "3x1000000x1000000"])
    stated = rng.choice([shape, "3x8"])  # a spec may state an input the model cannot take
    spec = (
        "input: ["
        + stated.replace("x", ", ")
        + "]\nlayers:\n  - conv2d: {out: 4, kernel: 1, name: '0'}\n  - relu: {name: '1'}\n"
    )
    files["spec.yaml"] = spec.encode()
    if rng.random() < 0.5:
        return ["verify", "{spec}", target] + (["-f", "json"] if rng.random() < 0.3 else []), files
    return ["import", "torch", target, "-i", rng.choice([shape, "3x8"])], files  # 3x8: a model that cannot take it


FAMILIES = [
    family_yaml_mutation,
    family_random_yaml,
    family_inline,
    family_expressions,
    family_budgets,
    family_diff,
    family_paths,
    family_names,
    family_pictures,
    family_export,
    family_memory,
    family_hf,
    family_torch,
]


def generate(seed: int, index: int) -> dict:
    rng = random.Random(f"{seed}:{index}")
    family = FAMILIES[index % len(FAMILIES)]
    args, files = family(rng)
    return {
        "index": index,
        "family": family.__name__[len("family_") :],
        "args": args,
        "files": {k: base64.b64encode(v).decode() for k, v in files.items()},
    }


# ------------------------------------------------------------------ the worker (runs cases in-process)


def _materialise(case: dict, directory: Path) -> list[str]:
    for child in list(directory.iterdir()):
        if child.is_symlink() or child.is_file() or child.is_fifo():
            child.unlink()
        else:
            import shutil

            shutil.rmtree(child)
    for name, data in case["files"].items():
        data = base64.b64decode(data)
        if name.startswith("@fifo:"):
            os.mkfifo(directory / name[6:])
        elif name.startswith("@link:"):
            os.symlink(data.decode(), directory / name[6:])
        elif name.startswith("@huge:"):
            with open(directory / name[6:], "wb") as f:
                f.truncate(10 * 2**20 + 1)
        else:
            (directory / name).parent.mkdir(parents=True, exist_ok=True)
            (directory / name).write_bytes(data)
    places = {"{spec}": str(directory / "spec.yaml"), "{old}": str(directory / "old.yaml"), "{dir}": str(directory)}
    args = []
    for arg in case["args"]:
        for place, path in places.items():
            arg = arg.replace(place, path)
        args.append(arg)
    return args


class _Timeout(BaseException):
    pass


def worker(directory: str) -> None:
    """Reads cases (JSON lines) on stdin; writes one result line per case on stdout."""
    import signal
    import traceback

    from typer.testing import CliRunner

    sys.path.insert(0, str(ROOT))
    from paramcalc.cli import app

    def alarm(signum, frame):
        raise _Timeout()

    signal.signal(signal.SIGPROF, alarm)  # CPU time, so a loaded machine does not make hangs
    try:  # torch's import and its meta device's first use take seconds: not a case's time
        import torch

        torch.ones(1, device="meta") + 1
    except ImportError:
        pass
    runner = CliRunner()
    work = Path(directory)
    out = sys.__stdout__
    for line in sys.stdin:
        case = json.loads(line)
        out.write(json.dumps({"start": case["index"]}) + "\n")
        out.flush()
        args = _materialise(case, work)
        problem = None
        signal.setitimer(signal.ITIMER_PROF, CASE_SECONDS)
        try:
            result = runner.invoke(app, args, catch_exceptions=True)
            signal.setitimer(signal.ITIMER_PROF, 0)
            stdout, stderr, code = result.stdout, result.stderr, result.exit_code
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                problem = (
                    "hang"
                    if isinstance(result.exception, _Timeout)
                    else "memory"
                    if isinstance(result.exception, MemoryError)
                    else "traceback"
                )
                stderr += "".join(traceback.format_exception(*result.exc_info))[-3000:]
        except _Timeout:
            stdout, stderr, code, problem = "", "", None, "hang"
        except MemoryError:
            stdout, stderr, code, problem = "", "", None, "memory"
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
        html = ""
        if "--save-html" in args and code == 0:
            html = Path(args[args.index("--save-html") + 1]).read_text()
        extra = _after(args, code, stdout, work)
        out.write(
            json.dumps(
                {
                    "index": case["index"],
                    "args": args,
                    "exit": code,
                    "stdout": stdout[-200_000:],
                    "stderr": stderr[-20_000:],
                    "problem": problem,
                    "html_injected": bool(re.search(r"<img|<a |href=", html)),
                    **extra,
                }
            )
            + "\n"
        )
        out.flush()


def _after(args: list[str], code, stdout: str, work: Path) -> dict:
    """What only the worker can see: whether exported Python compiles, whether an imported spec
    analyzes, whether a module of the working directory ran that was not named as a path."""
    found: dict = {}
    if args[0] == "export" and code == 0:
        try:
            compile(stdout, "exported.py", "exec")
        except (SyntaxError, ValueError) as e:
            found["export_error"] = f"{type(e).__name__}: {e}"[:300]
    if args[:2] == ["import", "hf"] and code == 0:
        from paramcalc import SpecError, analyze, parse_spec

        try:
            analyze(parse_spec(stdout, "imported.yaml"))
        except SpecError as e:
            found["import_error"] = str(e)[:300]
    if "--plot" in args and code == 0:
        found.update(_svg_problem(Path(args[args.index("--plot") + 1]).read_text()))
    if (work / "RAN_dotted").exists():
        found["cwd_module_ran"] = True
    for name, module in list(sys.modules.items()):  # a path's module is cached by its name: not for the next case
        if str(getattr(module, "__file__", "") or "").startswith(str(work)):
            del sys.modules[name]
    return found


SVG_ELEMENTS = {"svg", "title", "rect", "g", "text", "line", "polygon", "circle"}


def _svg_problem(text: str) -> dict:
    """`memory --plot`'s SVG: it parses, and holds only the elements the renderer writes, with no
    event handler or link: a spec's names are text in it, never markup."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        return {"svg_error": f"does not parse: {e}"}
    for element in root.iter():
        tag = element.tag.rpartition("}")[2]
        bad = [a for a in element.attrib if a.lower().startswith("on") or "href" in a.lower()]
        if tag not in SVG_ELEMENTS or bad:
            return {"svg_error": f"<{tag}> {bad}"[:200]}
    return {}


# ------------------------------------------------------------------ checking a result

_OWN_ANNOTATION = re.compile(
    r"::(?:error|warning) file=[^\n,]*(?:,line=\d+)?(?:,col=\d+)?,title=paramcalc%3A "
    r"(?:over budget|expectation failed|invalid spec|warning)::[^\n]*"
)
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
# What .NET's culture-aware search skips (paramcalc.escape has the same list, written independently here).
_IGNORABLE = re.compile(
    "[\x01-\x08\x0e-\x1f\x7f-\x9f\xad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
    "\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8]"
)
_MENTION = re.compile(r"(?<![\w`\\])@[A-Za-z0-9]")
# Errors about a file as a whole (not its content), which have no line to name
_FILE_LEVEL = (
    "no such file",
    "not a file",
    "is a named pipe",
    "is a device",
    "is a directory",
    "larger than",
    "cannot read",
    "not a valid file name",
    "symlink",
    "cannot write",
)


def _unsafe_pictures(args: list[str], code, stdout: str) -> list[str]:
    """No Mermaid directive or comment from a spec; no Markdown mention outside code."""
    found = []
    if code == 0 and "mermaid" in args and "%%" in stdout:
        found.append("Mermaid directive or comment (%%) in the output")
    if code in (0, 1) and ("markdown" in args or "md" in args):
        outside_code = re.sub(r"(`+).*?\1", "", stdout)
        mention = _MENTION.search(outside_code)
        if mention:
            found.append(f"Markdown mention outside code: {outside_code[mention.start() : mention.start() + 40]!r}")
    return found


def _unlocated(args: list[str], code, stdout: str, stderr: str) -> list[str]:
    """An error about a spec's content names its file, line and column (issue 23: 706 of 50,000 did not)."""
    if code != 2 or args[0] not in ("analyze", "check", "diff", "memory", "export") or "-i" in args:
        return []
    if args[0] == "memory" and len(args) > 4:  # its settings' errors are about flags, not the spec
        return []
    if args[0] == "check":
        if "-f" in args and args[args.index("-f") + 1] != "table":
            return []
        messages = [line[len("INVALID  ") :] for line in stdout.split("\n") if line.startswith("INVALID  ")]
    else:
        messages = [stderr.split("\n")[0][len("error: ") :]] if stderr.startswith("error: ") else []
    return [
        f"error naming no file:line:col: {m[:100]!r}"
        for m in messages
        if not re.match(r".+?:\d+:\d+: ", m) and not m.startswith("--") and not any(w in m for w in _FILE_LEVEL)
    ]


def violations(result: dict) -> list[str]:
    """What is wrong with one case's result (empty when it behaved)."""
    if result.get("problem"):
        return [result["problem"]]
    found = []
    code, stdout, stderr, args = result["exit"], result["stdout"], result["stderr"], result["args"]
    command = args[0]
    if "Traceback" in stderr:
        found.append("traceback")
    if code not in (0, 1, 2):
        found.append(f"exit {code}")
    if code in (0, 1) and not stdout and "-q" not in args:
        found.append("exit 0/1 without output")
    if code == 2 and command != "check":
        if stdout:
            found.append("exit 2 with output on stdout")
        if not (stderr.startswith("error: ") and stderr.count("\nerror: ") == 0) and not stderr.startswith("Usage:"):
            found.append("exit 2 without exactly one message")
        if len(stderr) > 5000:
            found.append(f"a message of {len(stderr):,} characters")
    for name, text in (("stdout", stdout), ("stderr", stderr)):
        raw = [ch for ch in set(text) if ch != "\n" and ch != " " and not ch.isprintable()]
        if raw:
            found.append(f"raw control character(s) {raw!r} in {name}")
        for line in text.split("\n"):
            stripped = _IGNORABLE.sub("", line).lstrip()  # as the runner's culture-aware search reads it
            if stripped.startswith("::") and not (name == "stdout" and _OWN_ANNOTATION.fullmatch(stripped)):
                found.append(f"workflow command in {name}: {stripped[:80]!r}")
            if "##[" in _IGNORABLE.sub("", line):
                found.append(f"workflow command (##[) in {name}: {line[:80]!r}")
    found += _unsafe_pictures(args, code, stdout) + _unlocated(args, code, stdout, stderr)
    for key, what in (
        ("export_error", "exported Python does not compile"),
        ("import_error", "imported spec does not analyze"),
        ("svg_error", "the --plot picture is not the renderer's XML"),
    ):
        if result.get(key):
            found.append(f"{what}: {result[key]}")
    if result.get("cwd_module_ran"):
        found.append("a module of the working directory ran without being named as a path")
    if command == "analyze" and "csv" in args and code == 0:
        import csv
        import io

        rows = list(csv.reader(io.StringIO(stdout)))
        for row in rows[1:]:
            for column in (1, 2, 3, 14):
                if column < len(row) and row[column].startswith(_FORMULA):
                    found.append(f"CSV formula cell {row[column][:40]!r}")
    if result.get("html_injected"):
        found.append("HTML injected into --save-html output")
    if "markdown" in args and code == 0:
        outside_code = re.sub(r"(`+).*?\1", "", stdout)
        if re.search(r"(?<!\\)<[a-zA-Z/]", outside_code):
            found.append("raw HTML in Markdown")
    return found


# ------------------------------------------------------------------ the driver


def run(cases: int, seed: int = 0, workers: int = 2, start: int = 0, quiet: bool = True) -> dict:
    """Runs `cases` cases; returns {"cases", "seconds", "failures": [(index, family, problems, result)]}."""
    todo = list(range(start, start + cases))
    chunks = [todo[i::workers] for i in range(workers)]
    began = time.perf_counter()
    failures: list[tuple] = []
    procs = []
    for chunk in chunks:
        procs.append(_Driver(chunk, seed))
    while any(not p.done for p in procs):
        for p in procs:
            p.poll(failures)
        time.sleep(0.02)
    for p in procs:
        p.close()
    return {"cases": cases, "seconds": time.perf_counter() - began, "failures": failures}


def _limits():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


class _Driver:
    """One worker process over a list of cases; restarted after a case kills or hangs it."""

    def __init__(self, indices: list[int], seed: int):
        self.pending = list(indices)
        self.seed = seed
        self.done = not self.pending
        self.tmp = tempfile.TemporaryDirectory(prefix="paramcalc-fuzz-")
        self.proc = None
        if not self.done:
            self.spawn()

    def spawn(self):
        import selectors

        env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1", COLUMNS="120")
        work = Path(self.tmp.name) / "work"
        work.mkdir(exist_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--worker", str(work)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            preexec_fn=_limits,
            cwd=str(work),
            env=env,
        )
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.buffer = b""
        self.current = None
        self.started_at = time.perf_counter()
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.proc.stdout, selectors.EVENT_READ)
        # Feed the cases from a thread: the pipe would block on a big batch.
        import threading

        cases = [json.dumps(generate(self.seed, i)) + "\n" for i in self.pending]
        proc = self.proc

        def feed():
            try:
                for c in cases:
                    proc.stdin.write(c.encode())
                proc.stdin.close()
            except (BrokenPipeError, OSError, ValueError):
                pass

        threading.Thread(target=feed, daemon=True).start()

    def poll(self, failures):
        if self.done:
            return
        try:
            chunk = self.proc.stdout.read()
        except (BlockingIOError, ValueError):
            chunk = None
        if chunk:
            self.buffer += chunk
            *lines, self.buffer = self.buffer.split(b"\n")
            for line in lines:
                message = json.loads(line)
                if "start" in message:
                    self.current, self.started_at = message["start"], time.perf_counter()
                    continue
                self.pending.remove(message["index"])
                self.current = None
                problems = violations(message)
                if problems:
                    case = generate(self.seed, message["index"])
                    failures.append((message["index"], case["family"], problems, message))
        if not self.pending:
            self.finish()
            return
        died = self.proc.poll() is not None and not chunk
        # A hang inside one C call never sees the CPU timer: the wall clock, generously, catches it.
        hung = self.current is not None and time.perf_counter() - self.started_at > 3 * CASE_SECONDS
        if died or hung:
            if self.current is not None:
                index = self.current
                case = generate(self.seed, index)
                problem = "hang" if hung else f"worker died (exit {self.proc.returncode}; memory?)"
                failures.append((index, case["family"], [problem], {"args": case["args"]}))
                self.pending.remove(index)
            self.proc.kill()
            self.proc.wait()
            if self.pending:
                self.spawn()
            else:
                self.finish()

    def finish(self):
        self.done = True
        if self.proc and self.proc.poll() is None:
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:  # its cases are all answered: a slow exit is not a finding
                self.proc.kill()
                self.proc.wait()

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.tmp.cleanup()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--show", type=int, default=10, help="failures to print in full")
    parser.add_argument("--worker", metavar="DIR", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        worker(options.worker)
        return
    summary = run(options.cases, options.seed, options.workers, options.start)
    failures = summary["failures"]
    by_kind: dict[str, int] = {}
    for _, family, problems, _ in failures:
        for p in problems:
            key = f"{family}: {p.split(':')[0][:60]}"
            by_kind[key] = by_kind.get(key, 0) + 1
    print(f"{summary['cases']:,} cases in {summary['seconds']:.0f} s, {len(failures)} failed")
    for key, n in sorted(by_kind.items(), key=lambda kv: -kv[1]):
        print(f"  {n:6}  {key}")
    for index, family, problems, result in failures[: options.show]:
        print(f"\n--- case {index} ({family}): {problems}\n    args: {result.get('args')}")
        print("    " + (result.get("stderr") or "")[-1500:].replace("\n", "\n    "))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
