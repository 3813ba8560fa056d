"""Every kind of bad input: exit 2, nothing on stdout, one message naming file:line:col, the layer,
what was expected and what was found. Run through the real entry point."""

import pytest
from helpers import run_cli

CONV = "input: [3, 32, 32]\nlayers:\n"

CASES = {
    # name: (spec text, where, words the message must contain)
    "invalid yaml": ("input: [3, 32, 32\nlayers: [relu]\n", ":2:7", ["invalid YAML"]),
    "bad indentation": ("input: [3, 8]\nlayers:\n  - relu\n bad: 1\n", ":4:", ["invalid YAML"]),
    "top level a list": ("- relu\n", ":1:1", ["top level", "mapping", "found"]),
    "top level a scalar": ("relu\n", ":1:1", ["top level", "'relu'"]),
    "empty file": ("", ":1:1", ["empty"]),
    "missing input": ("layers: [relu]\n", ":1:1", ["no 'input'"]),
    "missing layers": ("input: [3]\n", ":1:1", ["no 'layers'"]),
    "empty layers": ("input: [3]\nlayers: []\n", ":2:9", ["empty"]),
    "unknown top-level key": (
        "input: [3]\nlayer: [relu]\n",
        ":2:1",
        ["unknown top-level key 'layer'", "did you mean 'layers'"],
    ),
    "bad input shape": ("input: [3, 0]\nlayers: [relu]\n", ":1:8", ["positive integers", "[3, 0]"]),
    "unknown kind": (
        CONV + "  - conv2dd: {out: 8, kernel: 3}\n",
        ":3:5",
        ["unknown layer kind 'conv2dd'", "did you mean 'conv2d'"],
    ),
    "unknown field": (
        CONV + "  - conv2d: {out: 8, kernal: 3}\n",
        ":3:22",
        ["layer 0 'conv2d_1' (conv2d)", "unknown field 'kernal'", "did you mean 'kernel'"],
    ),
    "missing required field": (CONV + "  - conv2d: {kernel: 3}\n", ":3:5", ["needs field 'out'"]),
    "string where int": (
        CONV + '  - conv2d: {out: "64", kernel: 3}\n',
        ":3:19",
        ["field 'out'", "positive integer", "'64' (a string)"],
    ),
    "int where bool": (
        CONV + "  - conv2d: {out: 8, kernel: 3, bias: 3}\n",
        ":3:39",
        ["field 'bias'", "true or false", "3"],
    ),
    "bool where int": (CONV + "  - linear: {out: true}\n", ":3:19", ["field 'out'", "true (a boolean)"]),
    "zero size": (CONV + "  - conv2d: {out: 0, kernel: 3}\n", ":3:19", ["positive integer", "found 0"]),
    "negative size": (CONV + "  - conv2d: {out: 8, kernel: -3}\n", ":3:30", ["positive integer", "found -3"]),
    "groups not dividing in": (
        CONV + "  - conv2d: {out: 8, kernel: 3, groups: 2}\n",
        ":3:5",
        ["groups=2", "input channels", "3"],
    ),
    "groups not dividing out": (
        "input: [4, 8, 8]\nlayers:\n  - conv2d: {out: 6, kernel: 3, groups: 4}\n",
        ":3:5",
        ["groups=4", "output channels", "6"],
    ),
    "same padding with stride": (
        CONV + "  - conv2d: {out: 8, kernel: 3, padding: same, stride: 2}\n",
        ":3:42",
        ["'same'", "stride 1", "[2, 2]"],
    ),
    "kernel larger than input": (
        "input: [3, 4, 4]\nlayers:\n  - conv2d: {out: 8, kernel: 7}\n",
        ":3:5",
        ["larger than the padded input 4"],
    ),
    "pool padding over half kernel": (
        CONV + "  - maxpool2d: {kernel: 3, padding: 2}\n",
        ":3:37",
        ["at most half the kernel", "padding 2"],
    ),
    "wrong rank": (
        CONV + "  - flatten\n  - conv2d: {out: 8, kernel: 3}\n",
        ":4:5",
        ["layer 1 'conv2d_1' (conv2d)", "3 dimensions (C, H, W)", "[3072]"],
    ),
    "duplicate names": (CONV + "  - relu: {name: a}\n  - relu: {name: a}\n", ":4:5", ["duplicate layer name 'a'"]),
    "duplicate yaml key": (CONV + "  - conv2d: {out: 8, out: 9, kernel: 3}\n", ":3:22", ["duplicate key 'out'"]),
    "two kinds in one layer": (CONV + "  - relu:\n    flatten:\n", ":4:5", ["one kind per layer"]),
    "declared in_channels disagree": (
        CONV + "  - conv2d: {in_channels: 4, out: 8, kernel: 3}\n",
        ":3:5",
        ["in_channels=4 was given, but the input has 3"],
    ),
    "flatten over batch": (CONV + "  - flatten: {start_dim: 0}\n", ":3:5", ["batch dimension"]),
    "alias bomb": (
        "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
        "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n",
        ":",
        ["alias bomb"],
    ),
    "recursive alias": ("a: &a [*a]\n", ":", ["alias"]),
    "runaway repeat": (
        "input: [4]\nlayers:\n  - repeat: 1000000000\n    relu:\n",
        ":3:5",
        ["more than 100,000 layers"],
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_bad_spec_exits_2_with_location(name, tmp_path):
    text, where, words = CASES[name]
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    result = run_cli("analyze", str(path))
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: {path}{where}"), result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def test_missing_file():
    result = run_cli("analyze", "no/such/spec.yaml")
    assert (result.returncode, result.stdout) == (2, "")
    assert "no/such/spec.yaml: no such file" in result.stderr


def test_directory(tmp_path):
    result = run_cli("analyze", str(tmp_path))
    assert (result.returncode, result.stdout) == (2, "")
    assert "is a directory" in result.stderr


def test_binary_file(tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(b"PK\x03\x04\x00\x00\xff\xfe")
    result = run_cli("analyze", str(path))
    assert (result.returncode, result.stdout) == (2, "")
    assert "binary file" in result.stderr


def test_non_utf8_file(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9\ninput: [3]\nlayers: [relu]\n".encode("latin-1"))
    result = run_cli("analyze", str(path))
    assert (result.returncode, result.stdout) == (2, "")
    assert "not UTF-8" in result.stderr and "0xe9" in result.stderr


def test_non_utf8_byte_after_a_bom_is_named_where_it_is(tmp_path):
    """A BOM is dropped before decoding; the bad byte is still named by its offset in the file."""
    from paramcalc import yaml_reader
    from paramcalc.errors import SpecError

    data = b"\xef\xbb\xbfname: caf\xe9\n"
    with pytest.raises(SpecError) as e:
        yaml_reader.read_text(str(_write(tmp_path / "bom.yaml", data)))
    assert "byte 0xe9 (offset 12)" in e.value.message and e.value.loc[1:] == (1, 10)
    assert data[12] == 0xE9


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def test_inline_error_names_the_argument():
    result = run_cli("analyze", "-i", "3x32x32", "-l", "conv2d(8, kernel=3)", "-l", "relu", "-l", "conv2d(8, kernl=3)")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith("error: -l 3, column 11: layer 2 'conv2d_2' (conv2d): unknown field 'kernl'")
    assert "did you mean 'kernel'" in result.stderr


def test_inline_syntax_error():
    result = run_cli("analyze", "-i", "3x32x32", "-l", "conv2d(8, kernel=)")
    assert result.returncode == 2 and "-l 1" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["analyze"],
        ["analyze", "-i", "3x32x32"],
        ["analyze", "--format", "xml", "x.yaml"],
        ["analyze", "spec.yaml", "-i", "3", "-l", "relu"],
        ["nosuchcommand"],
        ["kinds", "conv2dd"],
    ],
)
def test_usage_errors_exit_2(args):
    result = run_cli(*args)
    assert result.returncode == 2
    assert result.stdout == "" and "Traceback" not in result.stderr


# ---------------------------------------------------------------- issue 28: messages


@pytest.mark.parametrize(
    "entry, expected",
    [("- repaet: 2", "repeat"), ("- frm: input", "from"), ("- layrs: [relu]", "layers"), ("- conv2dd: 4", "conv2d")],
)
def test_a_misspelt_list_entry_suggests_spec_keywords_too(entry, expected):
    result = run_cli("analyze", "-", stdin=f"input: [3, 8, 8]\nlayers:\n  - relu\n  {entry}\n")
    assert result.returncode == 2 and result.stdout == ""
    assert "<stdin>:4:5: unknown layer kind" in result.stderr and f"did you mean '{expected}'?" in result.stderr


@pytest.mark.parametrize(
    "spec, expected",
    [
        (
            "inputs: {x: []}\nlayers:\n  - linear: 4\n",
            "a per-sample input of at least 1 dimension (..., features), found []",
        ),
        (
            "input: [2, 2, 2, 2, 2, 2, 2, 2, 2]\nlayers:\n  - layernorm\n",
            "input of at most 8 dimensions (..., features)",
        ),
        (
            "input: [4]\nlayers:\n  - conv2d: {out: 4, kernel: 3}\n",
            "input of 3 dimensions (C, H, W), found [4] (1 dimension)",
        ),
        ("input: [4]\nlayers:\n  - lstm: 4\n", "input of 2 dimensions (seq, features), found [4] (1 dimension)"),
    ],
)
def test_dimension_ranges_read_as_a_bound(spec, expected):
    result = run_cli("analyze", "-", stdin=spec)
    assert result.returncode == 2 and expected in result.stderr, result.stderr
    assert " or 2 or " not in result.stderr
