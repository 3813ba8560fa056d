"""--share: each row's share of params and MACs, the five costliest, and the --rf / --share table columns."""

from pathlib import Path

import pytest
from helpers import run_cli

from paramcalc import analyze
from paramcalc.render.table import bar
from paramcalc.share import costliest, shares, units

SPECS = sorted((Path(__file__).parent.parent / "specs").glob("*.yaml"))


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
@pytest.mark.parametrize("depth", [None, 1, 2])
def test_units_split_the_network_so_shares_add_up(path, depth):
    report = analyze(str(path))
    rows = units(report, depth)
    assert sum(r.params - r.shared for r in rows) == report.totals.params
    assert sum(r.macs for r in rows) == report.totals.macs
    assert sum(shares(r, report.totals)[0] for r in rows) == pytest.approx(1)


def test_costliest_are_the_largest_rows():
    report = analyze("specs/resnet50.yaml")
    top = costliest(report, 1)
    by_params = sorted(units(report, 1), key=lambda r: r.params, reverse=True)[:5]
    assert [name for name, _ in top["params"]] == [r.name for r in by_params]
    assert top["params"][0] == ("layer4", 14_964_736 / 25_557_032)
    by_macs = sorted(units(report, 1), key=lambda r: r.macs, reverse=True)[:5]
    assert [name for name, _ in top["macs"]] == [r.name for r in by_macs]


def test_tied_weight_counts_for_its_owner():
    report = analyze("specs/gpt2.yaml")
    lm_head = next(r for r in report.layers if r.name == "lm_head")
    assert shares(lm_head, report.totals)[0] == 0  # its weight is wte's


def test_bars():
    assert bar(0) == " " * 10 + "   0.0%"
    assert bar(1) == "█" * 10 + " 100.0%"
    assert bar(0.4531) == "████▌" + " " * 7 + "45.3%"  # 4.53 of 10 cells: four and a half


def test_share_table_names_the_costliest():
    out = run_cli("analyze", "specs/resnet50.yaml", "--depth", "1", "--share").stdout
    assert "costliest blocks and layers by params: layer4 58.6%, layer3 27.8%, fc 8.0%, layer2 4.8%, layer1 0.8%" in out
    assert "params share" in out and "MACs share" in out


def test_rf_columns():
    out = run_cli("analyze", "specs/resnet18.yaml", "--depth", "1", "--rf").stdout.splitlines()
    layer4 = next(line for line in out if "layer4 …" in line).split()
    assert layer4[-3:] == ["435×435", "32×32", "-217×-217"]
    assert next(line for line in out if " avgpool " in line).split()[-3:] == ["global", "–", "–"]
    dcgan = run_cli("analyze", "specs/dcgan_generator.yaml", "--rf").stdout
    assert "1/16×1/16" in dcgan


@pytest.mark.parametrize("fmt", ["json", "csv", "markdown", "mermaid"])
def test_table_options_with_other_formats_are_usage_errors(fmt):
    result = run_cli("analyze", "specs/lenet5.yaml", "--rf", "-f", fmt)
    assert result.returncode == 2 and result.stdout == "" and "--rf and --share add table columns" in result.stderr
