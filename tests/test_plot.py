"""`memory --plot FILE.svg`: the step's live bytes as an SVG picture (paramcalc/render/plot.py, from
memory.plot()). What is drawn is checked against the memory command's own JSON (its peak, phase, layer
and timeline), the picture's structure against a hand-written skeleton, and where a headless Chromium
is on PATH, that a real browser draws something."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paramcalc import Analysis
from paramcalc.cli import app
from paramcalc.memory import SERIES, Settings, memory, plot
from tests.helpers import run_cli

ROOT = Path(__file__).parent.parent
SPECS = sorted((ROOT / "specs").glob("*.yaml"))
SVG = "{http://www.w3.org/2000/svg}"
GROUPS = ["title", "axes", "phases", "series", "device", "peak", "legend"]


def draw(tmp_path, *args) -> tuple[ET.Element, dict]:
    """Runs `memory ... --plot` in-process; the SVG parsed, and the JSON the same run printed."""
    out = tmp_path / "step.svg"
    result = CliRunner().invoke(app, ["memory", *args, "--timeline", "-f", "json", "--plot", str(out)])
    assert result.exit_code == 0, result.output
    return ET.parse(out).getroot(), json.loads(result.stdout)


def groups(svg) -> list[str]:
    return [g.get("id") for g in svg.iter(f"{SVG}g")]


def texts(svg, group: str) -> list[str]:
    g = next(g for g in svg.iter(f"{SVG}g") if g.get("id") == group)
    return [t.text for t in g.iter(f"{SVG}text")]


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_every_spec_draws_training_and_inference(spec, tmp_path):
    svg, data = draw(tmp_path, str(spec), "--gpu", "80GiB")
    assert groups(svg) == GROUPS
    polygons = list(svg.iter(f"{SVG}polygon"))
    assert 4 <= len(polygons) <= 5  # parameters, optimizer state, gradients, activations (+ temporaries)
    assert texts(svg, "phases") == ["forward", "loss", "backward", "step"]
    where = f"{data['peak_phase']}, at {data['peak_layer']}" if data["peak_layer"] else data["peak_phase"]
    assert texts(svg, "peak")[0].endswith(f"({data['peak_bytes']:,} bytes) in {where}")
    svg, data = draw(tmp_path, str(spec), "--inference")
    assert groups(svg) == [g for g in GROUPS if g != "device"]
    assert texts(svg, "phases") == ["forward"]
    assert texts(svg, "peak")[0].startswith("peak ")


@pytest.mark.parametrize("spec", ["lenet5", "gpt2", "resnet18", "llama3_8b"])
def test_the_series_add_up_to_the_timeline(spec):
    # memory.plot() splits the timeline's live bytes: at every moment the series sum to them, none below 0
    analysis = Analysis.of(str(ROOT / "specs" / f"{spec}.yaml"))
    for settings in (Settings(device="cpu"), Settings(precision="amp-bf16", zero=3, devices=8, checkpoint=True)):
        result = memory(analysis, settings)
        data = plot(analysis, result)
        assert list(data.series) == [s for s in SERIES if s in data.series]
        assert all(min(values) >= 0 for values in data.series.values())
        totals = [sum(values[i] for values in data.series.values()) for i in range(len(data.moments))]
        assert totals == [p.live for p in result.peak.points]
        assert totals[data.peak] == result.peak.peak
        assert data.series["parameters"][0] >= result.per_device_components["parameters"]  # with the buffers
        assert set(data.series["optimizer state"]) == {
            result.per_device_components["optimizer_state"] + result.per_device_components["master_weights"]
        }
        assert data.series["gradients"][-1] > 0  # every gradient is alive at the step


def test_golden_structure_lenet5(tmp_path):
    """LeNet-5 at batch 1 on the CPU, on a 4 MiB device with 1 MiB reserved: the skeleton of the picture
    (elements, ids, series, labels), not its coordinates."""
    svg, data = draw(
        tmp_path, str(ROOT / "specs" / "lenet5.yaml"), "--device", "cpu", "--gpu", "4MiB", "--reserve", "1MiB"
    )
    assert svg.tag == f"{SVG}svg" and svg.get("viewBox") == "0 0 960 560"
    assert svg.find(f"{SVG}title").text.startswith("lenet5 · train · batch 1 · fp32 · adamw (foreach)")
    assert [child.tag.removeprefix(SVG) for child in svg] == ["title", "rect", *["g"] * len(GROUPS)]
    assert groups(svg) == GROUPS
    polygons = list(svg.iter(f"{SVG}polygon"))
    names = ["parameters", "optimizer state", "gradients", "activations", "temporaries"]
    assert [p.get("data-series") for p in polygons] == names
    assert [p.find(f"{SVG}title").text for p in polygons] == names
    assert texts(svg, "legend") == names
    assert texts(svg, "phases") == ["forward", "loss", "backward", "step"]
    assert len([line for line in svg.iter(f"{SVG}line") if line.get("class") == "phase"]) == 4
    assert texts(svg, "device") == ["device 4.0 MiB", "less 1.0 MiB reserved: 3.0 MiB for tensors"]
    ticks = texts(svg, "axes")[:-2]
    assert ticks[0] == "0" and all(t.endswith(" MiB") for t in ticks[1:]) and len(ticks) >= 4
    # the peak: its bytes, phase and layer as the JSON of the same run says them
    peak = data["peak_bytes"]
    assert texts(svg, "peak") == [
        f"peak {peak / 2**20:.1f} MiB ({peak:,} bytes) in {data['peak_phase']}, at {data['peak_layer']}"
    ]
    # one moment a column: the top of the stack at the peak's column is where the peak's dot is
    moments = len(data["timeline"])
    top = polygons[-1].get("points").split()
    highest = min(float(p.split(",")[1]) for p in top[: 2 * moments])
    assert abs(highest - float(svg.find(f".//{SVG}circle").get("cy"))) < 0.11


def test_names_are_escaped(tmp_path):
    # the network's name from its file's name (control characters in it shown as the table shows them)
    spec = tmp_path / "<b>&amp;\x1b[2J.yaml"
    spec.write_text('input: [4]\nlayers:\n  - linear: {out: 3, name: "x</text><script>y"}\n')
    svg, _ = draw(tmp_path, str(spec), "--inference")
    assert not list(svg.iter(f"{SVG}script")) and not list(svg.iter(f"{SVG}b"))
    assert svg.find(f"{SVG}title").text.startswith("<b>&amp;\\x1b[2J · inference")
    assert texts(svg, "peak")[0].endswith("at x</text><script>y")


def test_no_character_breaks_the_xml():
    from paramcalc.escape import xml

    every = "".join(map(chr, range(0x3000))) + "\ud800\ufffe\uffff\U0001f600"
    assert ET.fromstring(f'<t a="{xml(every)}">{xml(every)}</t>').text == ET.fromstring(f"<t>{xml(every)}</t>").text


def test_the_readme_picture_is_what_its_command_draws(tmp_path):
    readme = (ROOT / "README.md").read_text()
    found = re.search(r"```text\n(paramcalc memory [^\n]*--plot (\S+))\n```", readme)
    assert found and f"]({found.group(2)})" in readme
    args = found.group(1).split()[1:]
    args[args.index("--plot") + 1] = str(tmp_path / "drawn.svg")
    assert run_cli(*args).returncode == 0
    assert (tmp_path / "drawn.svg").read_text() == (ROOT / found.group(2)).read_text()


def test_refused_where_there_is_no_step(tmp_path):
    out = tmp_path / "p.svg"
    for extra in (["--serve"], ["--tp", "2"]):
        result = run_cli("memory", str(ROOT / "specs" / "gpt2.yaml"), *extra, "--plot", str(out))
        assert result.returncode == 2 and "--plot" in result.stderr
    assert not out.exists()


def test_written_whole_or_not_at_all(tmp_path):
    (tmp_path / "dir.svg").mkdir()
    result = run_cli("memory", str(ROOT / "specs" / "lenet5.yaml"), "--plot", str(tmp_path / "dir.svg"))
    assert result.returncode == 2 and "cannot write" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["dir.svg"]  # no temporary file left behind


# ------------------------------------------------------------------ in a real browser

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def pixels(png: bytes) -> list[bytes]:
    """The rows of an 8-bit RGB or RGBA PNG (what Chromium writes), filters undone (PNG spec, 9.2)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    at, data, header = 8, b"", None
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind, body = png[at + 4 : at + 8], png[at + 8 : at + 8 + length]
        header = body if kind == b"IHDR" else header
        data += body if kind == b"IDAT" else b""
        at += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6)
    step = 3 if colour == 2 else 4
    raw, rows, previous = zlib.decompress(data), [], bytes(width * step)
    for r in range(height):
        line = raw[r * (width * step + 1) : (r + 1) * (width * step + 1)]
        kind, row = line[0], bytearray(line[1:])
        for i in range(len(row)):
            a = row[i - step] if i >= step else 0
            b = previous[i]
            c = previous[i - step] if i >= step else 0
            if kind == 1:
                row[i] = (row[i] + a) & 255
            elif kind == 2:
                row[i] = (row[i] + b) & 255
            elif kind == 3:
                row[i] = (row[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(row))
        previous = row
    return [bytes(x for k, x in enumerate(row) if k % step < 3) for row in rows]


def test_a_browser_draws_it(tmp_path):
    browser = next((found for name in BROWSERS if (found := shutil.which(name))), None)
    if browser is None:
        pytest.skip("no headless Chromium or Chrome on PATH (chromium, chromium-browser, google-chrome)")
    svg = tmp_path / "step.svg"
    assert run_cli("memory", str(ROOT / "specs" / "resnet18.yaml"), "--gpu", "2GiB", "--plot", str(svg)).returncode == 0
    png = tmp_path / "step.png"
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={png}",
            "--window-size=960,560",
            svg.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert png.is_file(), "the browser wrote no screenshot"
    rows = pixels(png.read_bytes())
    colours = {row[i : i + 3] for row in rows for i in range(0, len(row), 3)}
    painted = sum(1 for row in rows for i in range(0, len(row), 3) if row[i : i + 3] != b"\xff\xff\xff")
    assert len(colours) > 8  # the series' colours, the text, the lines: not one flat fill
    assert painted > 0.05 * len(rows) * len(rows[0]) // 3  # the stacked areas cover a good part of it
