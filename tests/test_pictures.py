"""analyze --format mermaid / dot: golden text, structure, escaping, and real renderers.

Rendering needs Graphviz (`dot`) and the Mermaid CLI (`mmdc`, from npm's @mermaid-js/mermaid-cli,
driving Debian's chromium); those tests skip where the tools are absent. `MMDC` may name the mmdc
executable when it is not on PATH."""

import html
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import run_cli

from paramcalc import analyze, parse_spec
from paramcalc.render import render

ROOT = Path(__file__).parent.parent
GOLDEN = ROOT / "tests" / "golden"
SPECS = sorted((ROOT / "specs").glob("*.yaml"))
DOT = shutil.which("dot")
MMDC = os.environ.get("MMDC") or shutil.which("mmdc")

EVIL = r"""
name: "evil \"net\" <b>x</b> --> end"
input: [3, 8, 8]
layers:
  - conv2d: {out: 4, kernel: 3, name: "a\"b]<script>alert(1)</script>#quot;&amp;\\`x`-->end"}
  - relu: {name: "c[d]{e}|f|;%%"}
"""
EVIL_NAME = 'a"b]<script>alert(1)</script>#quot;&amp;\\`x`-->end'  # names cannot hold newlines or spaces


@pytest.mark.parametrize(
    "spec, depth, fmt, golden",
    [
        ("lenet5", None, "mermaid", "lenet5.mmd"),
        ("resnet18", 2, "mermaid", "resnet18_depth2.mmd"),
        ("lenet5", None, "dot", "lenet5.dot"),
        ("resnet18", 2, "dot", "resnet18_depth2.dot"),
    ],
)
def test_golden(spec, depth, fmt, golden):
    args = ["analyze", f"specs/{spec}.yaml", "-f", fmt] + (["--depth", str(depth)] if depth else [])
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (GOLDEN / golden).read_text()


def mermaid_graph(text):
    nodes = dict(re.findall(r'^\s*(n\d+)\(?\["(.*)"\]\)?$', text, re.M))
    edges = re.findall(r"^\s*(n\d+) --> (n\d+)$", text, re.M)
    ties = re.findall(r"^\s*(n\d+) -\.->\|tied\| (n\d+)$", text, re.M)
    return nodes, edges, ties


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_one_node_per_layer_and_an_edge_per_input(path):
    report = analyze(str(path))
    nodes, edges, _ = mermaid_graph(render(report, "mermaid"))
    assert len(nodes) == len(report.layers) + len(report.inputs)
    node_of = {html.unescape(label.split("<br/>")[0]): n for n, label in nodes.items()}
    for row in report.layers:
        for source in row.inputs:
            assert (node_of[source], node_of[row.name]) in edges
    assert len(edges) == len({(s, r.name) for r in report.layers for s in r.inputs})


def test_depth_makes_blocks_nodes_inside_their_parents():
    text = render(analyze("specs/resnet50.yaml"), "mermaid", 2)
    nodes, edges, _ = mermaid_graph(text)
    assert len(nodes) == 1 + 4 + 16 + 3  # input, stem, 16 bottlenecks, avgpool/flatten/fc
    assert text.count("subgraph") == 4 and 'subgraph c0["layer1 · bottleneck ×3"]' in text
    assert len(edges) == len(nodes) - 1  # a chain: the residual adds are inside the blocks


def test_tied_weights_are_dashed():
    mermaid = render(analyze("specs/gpt2.yaml"), "mermaid", 1)
    nodes, _, ties = mermaid_graph(mermaid)
    assert [(nodes[a].split("<br/>")[0], nodes[b].split("<br/>")[0]) for a, b in ties] == [("wte", "lm_head")]
    assert '[style=dashed, label="tied"]' in render(analyze("specs/gpt2.yaml"), "dot", 1)


def test_names_cannot_break_out_of_a_mermaid_label():
    text = render(analyze(parse_spec(EVIL, "evil.yaml")), "mermaid")
    labels = re.findall(r'\["(.*)"\]', text)
    assert len(labels) == 3
    for label in labels:
        assert '"' not in label and "`" not in label
        assert re.sub(r"<br/>", "", label).count("<") == 0 and ">" not in re.sub(r"<br/>", "", label)
    assert "-->end" not in text and "#35;quot;" in text and "#amp;amp;" in text


@pytest.mark.skipif(not DOT, reason="Graphviz (dot) is not installed")
def test_dot_labels_round_trip_through_graphviz():
    text = render(analyze(parse_spec(EVIL, "evil.yaml")), "dot")
    plain = subprocess.run([DOT, "-Tplain"], input=text, capture_output=True, text=True, check=True).stdout
    label = re.search(r'^node n1 \S+ \S+ \S+ \S+ "(.*)" rounded', plain, re.M).group(1)
    # -Tplain writes the label as Graphviz shows it (entities decoded), re-escaped as a DOT string
    first = label.split("\\n")[0].replace('\\"', '"').replace("\\\\", "\\")
    assert first == EVIL_NAME


@pytest.mark.skipif(not DOT, reason="Graphviz (dot) is not installed")
@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_dot_renders(path):
    result = run_cli("analyze", str(path), "-f", "dot")
    svg = subprocess.run([DOT, "-Tsvg"], input=result.stdout, capture_output=True, text=True)
    assert svg.returncode == 0, svg.stderr
    if path.stem == "resnet18":
        texts = {html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg.stdout)}
        assert {row.name for row in analyze(str(path)).layers} <= texts


@pytest.mark.skipif(not MMDC, reason="the Mermaid CLI (mmdc) is not installed")
def test_mermaid_renders_every_spec(tmp_path):
    """One mmdc run over a Markdown file holding every spec's chart (one browser start), plus the
    hostile names."""
    charts = [run_cli("analyze", str(p), "-f", "mermaid").stdout for p in SPECS]
    charts.append(render(analyze(parse_spec(EVIL, "evil.yaml")), "mermaid"))
    (tmp_path / "all.md").write_text("".join(f"```mermaid\n{c}```\n\n" for c in charts))
    command = [MMDC, "-i", "all.md", "-o", "out.md", "-q"]
    if Path("/usr/bin/chromium").exists():
        (tmp_path / "puppeteer.json").write_text('{"executablePath": "/usr/bin/chromium", "args": ["--no-sandbox"]}')
        command += ["-p", "puppeteer.json"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    svgs = [(tmp_path / f"out-{i}.svg").read_text() for i in range(1, len(charts) + 1)]
    assert all("Syntax error" not in svg for svg in svgs)
    resnet18 = svgs[[p.stem for p in SPECS].index("resnet18")]
    shown = html.unescape(re.sub(r"<[^>]+>", "\n", resnet18))
    assert {row.name for row in analyze("specs/resnet18.yaml").layers} <= set(shown.splitlines())
    assert EVIL_NAME.replace("\n", "␊") in html.unescape(re.sub(r"<br ?/?>", "\n", svgs[-1]))


def test_readme_mermaid_block_is_real_output():
    readme = (ROOT / "README.md").read_text()
    command, chart = re.search(
        r"`(paramcalc analyze [^`]*-f mermaid[^`]*)`:\n\n```mermaid\n(.*?)```", readme, re.S
    ).groups()
    assert run_cli(*command.split()[1:]).stdout == chart
