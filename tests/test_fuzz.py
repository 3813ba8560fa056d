"""The fuzzer of tests/fuzz.py, a few thousand cases per CI run (issue 8): every case ends in exit
0/1 with output or exit 2 with one message, never a traceback, a hang or a blown memory limit,
and no output holds a raw control character or a forged workflow command.

The long run is `python tests/fuzz.py --cases 50000` (about 10 to 20 minutes on two cores)."""

import os

import fuzz

CASES = int(os.environ.get("PARAMCALC_FUZZ_CASES", "3000"))


def test_fuzzed_cli_never_crashes_hangs_or_forges_output():
    summary = fuzz.run(CASES, seed=int(os.environ.get("PARAMCALC_FUZZ_SEED", "0")))
    report = [
        f"case {index} ({family}): {problems}\n  args: {result.get('args')}\n  " + (result.get("stderr") or "")[-800:]
        for index, family, problems, result in summary["failures"][:5]
    ]
    assert not summary["failures"], f"{len(summary['failures'])} of {CASES} cases failed:\n" + "\n".join(report)


def test_the_fuzzer_catches_what_it_is_for():
    """The checks themselves: each kind of bad result is reported."""
    ok = {"args": ["analyze", "x.yaml"], "exit": 0, "stdout": "fine\n", "stderr": "", "problem": None}
    assert fuzz.violations(ok) == []
    assert fuzz.violations({**ok, "stdout": "a\x1b]0;x\x07b"})
    assert fuzz.violations({**ok, "stdout": "a\u2028b"})
    assert fuzz.violations({**ok, "stdout": "name\n::error::forged\n"})
    assert fuzz.violations({**ok, "stderr": "x\n  ::warning file=a::forged"})
    assert fuzz.violations({**ok, "exit": 2, "stdout": ""}) == ["exit 2 without exactly one message"]
    assert fuzz.violations({**ok, "exit": 2, "stdout": "", "stderr": "error: a\nerror: b\n"})
    assert fuzz.violations({**ok, "stderr": "Traceback (most recent call last):"})
    assert fuzz.violations({**ok, "problem": "hang"}) == ["hang"]
    csv_out = "index,name,kind,inputs\n0,=HYPERLINK(1),relu,input\n"
    assert fuzz.violations({**ok, "args": ["analyze", "x", "-f", "csv"], "stdout": csv_out})
    own = "::error file=a.yaml,line=3,col=5,title=paramcalc%3A invalid spec::unknown field 'x::error::y'\n"
    assert fuzz.violations({**ok, "args": ["check", "a.yaml", "-f", "github"], "exit": 2, "stdout": own}) == []
