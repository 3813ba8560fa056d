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


def test_the_fuzzer_catches_the_new_surfaces():
    """Issue 23's checks: the older workflow-command form anywhere (through invisible characters),
    Mermaid directives, Markdown mentions, errors without a place, exported Python that does not
    compile, a module of the working directory that ran."""
    ok = {"args": ["analyze", "x.yaml"], "exit": 0, "stdout": "fine\n", "stderr": "", "problem": None}
    assert fuzz.violations({**ok, "stdout": "name ##[set-output name=x;]y\n"})
    assert fuzz.violations({**ok, "stderr": "error: a #\u034f#[error]b\n", "exit": 2, "stdout": ""})
    assert fuzz.violations({**ok, "stdout": "\u034f::error::x\n"})
    assert fuzz.violations({**ok, "stdout": "name ##\\u005bset-output]y\n"}) == []
    mermaid = {**ok, "args": ["analyze", "x.yaml", "-f", "mermaid"]}
    assert fuzz.violations({**mermaid, "stdout": 'n1["%%{init: {}}%%"]\n'})
    assert fuzz.violations({**mermaid, "stdout": 'n1["#37;#37;{init: {}}#37;#37;"]\n'}) == []
    markdown = {**ok, "args": ["analyze", "x.yaml", "-f", "markdown"]}
    assert fuzz.violations({**markdown, "stdout": "### hi @octocat\n"})
    assert fuzz.violations({**markdown, "stdout": "### hi `@`octocat and `@org/team`, a@b\n"}) == []
    error = {**ok, "exit": 2, "stdout": ""}
    assert fuzz.violations({**error, "stderr": "error: layer 'x' is wrong\n"})
    assert fuzz.violations({**error, "stderr": "error: x.yaml:3:5: layer 'x' is wrong\n"}) == []
    assert fuzz.violations({**error, "stderr": "error: x.yaml: no such file\n"}) == []
    assert fuzz.violations({**ok, "args": ["export", "x.yaml"], "export_error": "SyntaxError: x"})
    assert fuzz.violations({**ok, "cwd_module_ran": True})


def test_the_fuzzer_reads_the_plot():
    """`memory --plot`: an SVG that does not parse, or holds markup a name brought, is reported."""
    assert fuzz._svg_problem('<svg xmlns="http://www.w3.org/2000/svg"><text>a &lt;b&gt;</text></svg>') == {}
    assert fuzz._svg_problem('<svg xmlns="http://www.w3.org/2000/svg"><text>a <b></text></svg>')
    assert fuzz._svg_problem('<svg xmlns="http://www.w3.org/2000/svg"><script>x</script></svg>')
    assert fuzz._svg_problem('<svg xmlns="http://www.w3.org/2000/svg"><g onload="x"/></svg>')
    ok = {"args": ["memory", "x.yaml"], "exit": 0, "stdout": "fine\n", "stderr": "", "problem": None}
    assert fuzz.violations({**ok, "svg_error": "does not parse"})
