"""Issue 10: shape-aware expressions, matmul/bmm, buffers, layernorm2d, grouped-query attention, repeat: 0,
YAML floats, expression errors in spec words, and warnings for outputs nobody reads. Counts of each kind
are checked against torch in test_golden_layers (tests/fixtures/layers.json); here, the spec language."""

import json
import textwrap

import pytest
from helpers import run_cli

from paramcalc import SpecError, analyze, parse_spec


def run(text):
    return analyze(parse_spec(textwrap.dedent(text), "net.yaml"))


def error(text) -> str:
    with pytest.raises(SpecError) as info:
        run(text)
    return str(info.value)


SEPARABLE = """
    input: [16, 8, 8]
    blocks:
      separable:                # depthwise 3x3 at the input's width, pointwise to `out`, residual if widths match
        args: {out: null}
        layers:
          - conv2d: {out: "${shape(input)[0]}", kernel: 3, padding: 1, groups: "${shape(input)[0]}", name: dw}
          - conv2d: {out: $out, kernel: 1, name: pw}
          - add: {from: input}
            when: "${shape(input)[0] == out}"
    layers:
      - separable: {out: 16, name: a}
      - separable: {out: 32, name: b}
      - linear: {out: "${shape(a)[-1] + shape(b)[0]}", name: head}
"""


def test_shape_reads_the_input_of_a_block_and_any_layer_above():
    report = run(SEPARABLE)
    rows = {r.name: r for r in report.layers}
    assert rows["a.dw"].weights == 16 * 1 * 9 and rows["b.dw"].weights == 16 * 1 * 9  # depthwise: groups = 16
    assert "a.add_1" in rows and "b.add_1" not in rows  # 16 → 32: no residual
    assert rows["head"].output_shape == [32, 8, 8 + 32]


def test_shape_of_the_network_input_at_top_level():
    report = run("""
        input: [3, 10]
        layers:
          - linear: {out: "${shape(input)[0] * shape(input)[1]}"}
    """)
    assert report.output_shape == [3, 30]


@pytest.mark.parametrize(
    "expression, words",
    [
        ("${shape(nope)[0]}", ["shape(nope) names no layer or input defined above"]),
        ("${shape(input)[3]}", ["index 3, outside a list of 2", "[3, 10]"]),
        ("${shape(input) // 2}", ["cannot compute a list // an integer"]),
        ("${shape(input)['a']}", ["cannot index a list with a string", "indexing takes a list and an integer"]),
        ("${shape(3)}", ["shape() takes one layer name"]),
        ("${max(shape(input), 'a')}", ["cannot compute max() of a list, a string"]),
        ("${-shape(input)}", ["cannot negate a list"]),
    ],
)
def test_expression_errors_name_spec_types(expression, words):
    message = error(f"""
        input: [3, 10]
        layers:
          - linear: {{out: "{expression}"}}
    """)
    assert message.startswith("net.yaml:4:19: ")
    for word in words:
        assert word in message
    assert "YList" not in message and "int'" not in message


def test_shape_of_the_enclosing_block_is_refused():
    message = error("""
        input: [4]
        blocks:
          b:
            layers:
              - linear: {out: "${shape(outer)[0]}"}
        layers:
          - b: {name: outer}
    """)
    assert "shape(outer)" in message and "still being built" in message


def test_repeat_zero_passes_the_flow_through():
    report = run("""
        input: [4]
        layers:
          - linear: {out: 8, name: a}
          - repeat: 0
            name: extra
            linear: {out: 99}
          - linear: {out: 2, from: extra}
    """)
    assert [r.name for r in report.layers] == ["a", "linear_1"]
    assert report.layers[1].inputs == ["a"] and report.blocks == []


def test_repeat_negative_is_refused():
    assert "non-negative integer, found -1" in error("input: [4]\nlayers:\n  - repeat: -1\n    relu:\n")


def test_yaml_exponent_floats_are_numbers():
    report = run("""
        input: [6, 4]
        layers:
          - layernorm: {eps: 1e-12}
          - rmsnorm: {eps: 1E-6}
    """)
    assert report.totals.params == 4 + 4 + 4


def test_matmul_broadcasts_leading_dims():
    report = run("""
        inputs: {a: [1, 3, 5, 7], b: [2, 1, 7, 4]}
        layers:
          - matmul: {from: [a, b]}
    """)
    assert report.output_shape == [2, 3, 5, 4]
    assert report.totals.macs == 2 * 3 * 5 * 7 * 4 and report.totals.params == 0


def test_attention_by_hand_with_matmul():
    report = run("""
        input: [10, 16]
        layers:
          - linear: {out: 16, name: q}
          - linear: {out: 16, from: input, name: k}
          - transpose: {dim0: 1, dim1: 2}
          - matmul: {from: [q, transpose_1], name: scores}
          - softmax: {dim: -1}
          - linear: {out: 16, from: input, name: v}
          - matmul: {from: [softmax_1, v]}
    """)
    assert report.output_shape == [10, 16]
    assert report.totals.macs == 3 * 10 * 16 * 16 + 2 * 10 * 10 * 16


def test_buffer_counts_in_buffers_and_keeps_the_flow():
    report = run("""
        input: [8]
        layers:
          - linear: {out: 4, name: a}
          - buffer: {shape: [2, 3], name: state}
          - linear: {out: 2}
    """)
    assert (report.totals.buffers, report.totals.params) == (6, 8 * 4 + 4 + 4 * 2 + 2)
    assert report.layers[2].inputs == ["a"]
    assert report.warnings == []  # a buffer is state: nobody need read it


def test_grouped_query_attention_counts():
    # Llama-style: 8 query heads of 16 sharing 2 key/value heads; no biases; 12 tokens of 128
    report = run("""
        input: [12, 128]
        layers:
          - multiheadattention: {heads: 8, kv_heads: 2, bias: false}
    """)
    q, kv, e, n = 128, 2 * 16, 128, 12
    assert report.totals.weights == e * q + 2 * e * kv + q * e and report.totals.bias == 0
    assert report.totals.macs == n * e * q + 2 * n * e * kv + n * q * e + 2 * n * n * q


def test_whisper_style_bias_on_q_v_out_only():
    report = run("""
        input: [5, 64]
        layers:
          - multiheadattention: {heads: 4, k_bias: false}
    """)
    assert report.totals.bias == 3 * 64


def test_attention_leading_dims_are_batch_dims():
    one = run("input: [7, 32]\nlayers:\n  - multiheadattention: {heads: 4}\n")
    many = run("input: [6, 7, 32]\nlayers:\n  - multiheadattention: {heads: 4}\n")
    assert many.totals.params == one.totals.params and many.totals.macs == 6 * one.totals.macs
    assert many.output_shape == [6, 7, 32]


def test_unused_output_warns_once_per_line_and_outputs_silence_it():
    report = run("""
        input: [8]
        blocks:
          b:
            layers:
              - linear: {out: 3, name: lost}
              - linear: {out: 8, from: input}
        layers:
          - parameter: {shape: [4], name: forgotten}
          - repeat: 2
            b: {}
    """)
    assert [w.layer for w in report.warnings] == ["layer 0 'forgotten' (parameter)", "layer 1 'b_1.0.lost' (linear)"]
    assert "(and 1 more from this line)" in report.warnings[1].message
    assert str(report.warnings[0]).startswith("net.yaml:9:5: layer 0 'forgotten' (parameter): its output is never used")
    quiet = run("""
        input: [8]
        outputs: [side]
        layers:
          - linear: {out: 3, name: side}
          - linear: {out: 8, from: input}
    """)
    assert quiet.warnings == []


UNUSED = "input: [8]\nlayers:\n  - linear: {out: 3, name: side}\n  - linear: {out: 8, from: input}\n"


def test_warnings_go_to_stderr_and_check_strict_fails(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text(UNUSED)
    result = run_cli("analyze", str(path), "-f", "json")
    assert result.returncode == 0 and result.stderr.startswith(f"warning: {path}:3:5: layer 0 'side' (linear)")
    assert json.loads(result.stdout)["warnings"][0]["line"] == 3
    assert run_cli("check", str(path)).returncode == 0
    strict = run_cli("check", "--strict", str(path))
    assert strict.returncode == 1 and "its output is never used" in strict.stderr
    github = run_cli("check", "-f", "github", str(path))
    assert "::warning file=" in github.stdout and "line=3" in github.stdout
    assert run_cli("check", "--strict", "specs/").returncode == 0  # the zoo reads every output


@pytest.mark.parametrize(
    "layers, where, words",
    [
        ("  - multiheadattention: {heads: 8, kv_heads: 3}\n", ":3:46", ["kv_heads=3 must divide heads=8"]),
        (
            "  - linear: {out: 5, name: a}\n  - linear: {out: 6, from: input, name: b}\n  - matmul: {from: [a, b]}\n",
            ":5:5",
            ["inner dims must match", "[4, 5] @ [4, 6]"],
        ),
        ('  - linear: {out: "${shape(conv)[0]}"}\n', ":3:19", ["shape(conv) names no layer or input defined above"]),
        ("  - bmm: {from: [input, input]}\n", ":3:5", ["expects a per-sample input of 2 dimensions", "[4, 4, 4]"]),
    ],
)
def test_rejected_input_exits_2_with_location(layers, where, words, tmp_path):
    path = tmp_path / "spec.yaml"
    shape = "[4, 4, 4]" if "bmm" in layers else "[4, 64]" if "attention" in layers else "[4, 4]"
    path.write_text(f"input: {shape}\nlayers:\n{layers}")
    result = run_cli("analyze", str(path))
    assert result.returncode == 2 and result.stdout == "" and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: {path}{where}"), result.stderr
    for word in words:
        assert word in result.stderr, result.stderr
