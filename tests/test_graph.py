"""Graphs, blocks and repeats: names, references, merges, conditions, ties, and their errors.
Counts themselves are checked against torch elsewhere (golden, zoo); here, structure and relations."""

import glob
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


RESIDUAL = """
    input: [8, 16, 16]
    blocks:
      res:
        args: {width: null, project: false}
        layers:
          - conv2d: {out: $width, kernel: 3, padding: 1, name: conv}
          - name: shortcut
            when: $project
            from: input
            conv2d: {out: $width, kernel: 1}
          - add: {from: [conv, shortcut]}
    layers:
      - res: {width: 8, name: a}
      - res: {width: 16, project: true, name: b}
      - repeat: 3
        name: stage
        res: {width: 4}
        first: {project: true}
"""


def test_blocks_repeats_and_hierarchical_names():
    report = run(RESIDUAL)
    names = [row.name for row in report.layers]
    assert names[:2] == ["a.conv", "a.add_1"]  # shortcut skipped: add takes the block input
    assert report.layers[1].inputs == ["a.conv", "input"]
    assert "b.shortcut" in names and "stage.0.shortcut" in names and "stage.1.shortcut" not in names
    assert report.layers[names.index("stage.1.add_1")].inputs == ["stage.1.conv", "stage.0.add_1"]
    assert report.output_shape == [4, 16, 16]
    blocks = {b.name: b for b in report.blocks}
    assert blocks["stage"].kind == "res ×3" and blocks["stage.0"].depth == 2
    assert blocks["b"].params == sum(r.params for r in report.layers if r.name.startswith("b."))
    assert report.layers[names.index("stage.2.conv")].path == ["stage", "stage.2"]


def test_merge_with_one_from_adds_it_to_the_flow():
    report = run("""
        input: [4, 8, 8]
        layers:
          - conv2d: {out: 4, kernel: 3, padding: 1}
          - add: {from: input}
    """)
    assert report.layers[1].inputs == ["conv2d_1", "input"]


def test_concat_and_several_inputs_and_outputs():
    report = run("""
        inputs: {image: [3, 8, 8], mask: [1, 8, 8]}
        outputs: [features]
        layers:
          - conv2d: {out: 5, kernel: 3, padding: 1, from: image, name: features}
          - concat: {from: [features, mask]}
          - conv2d: {out: 2, kernel: 1}
    """)
    assert report.layers[1].output_shape == [6, 8, 8]
    assert report.outputs == {"features": [5, 8, 8], "conv2d_1": [2, 8, 8]}
    assert report.to_dict()["inputs"] == {"image": [3, 8, 8], "mask": [1, 8, 8]}


def test_expressions():
    report = run("""
        input: [3, 8, 8]
        blocks:
          b:
            args: {w: 2}
            layers:
              - conv2d: {out: "${w * 4}", kernel: "${3 if w > 1 else 1}", padding: "${w // 2}"}
        layers:
          - b: {w: 2}
    """)
    assert report.layers[0].output_shape == [8, 8, 8]


def test_unquoted_expression_in_flow_mapping_gets_a_hint():
    message = error("""
        input: [3, 8, 8]
        layers:
          - conv2d: {out: ${w}, kernel: 3}
    """)
    assert "invalid YAML" in message and "quote" in message


def test_add_shape_mismatch_names_both_inputs():
    message = error("""
        input: [4, 8, 8]
        layers:
          - conv2d: {out: 4, kernel: 3, name: small}
          - add: {from: [input, small]}
    """)
    assert message.startswith("net.yaml:5:5: layer 1 'add_1' (add): inputs must have the same shape")
    assert "[4, 8, 8] and [4, 6, 6]" in message and "input [4, 8, 8], small [4, 6, 6]" in message


def test_concat_mismatch():
    message = error("""
        input: [4, 8, 8]
        layers:
          - conv2d: {out: 4, kernel: 3, name: small}
          - concat: {from: [input, small]}
    """)
    assert "net.yaml:5:5" in message and "must match in every dim but dim 1" in message


def test_error_inside_block_names_both_places():
    message = error("""
        input: [4, 8, 8]
        blocks:
          b:
            layers:
              - conv2d: {out: 4, kernl: 3}
        layers:
          - relu
          - b: {name: first}
    """)
    assert message.startswith("net.yaml:6:26: layer 1 'first.conv2d_1' (conv2d): unknown field 'kernl'")
    assert "in block 'b' used as 'first' at net.yaml:9:5" in message


@pytest.mark.parametrize(
    "text, words",
    [
        (
            """
        input: [4]
        blocks:
          a: {layers: [b]}
          b: {layers: [a]}
        layers: [a]
     """,
            ["block 'a' uses itself (a → b → a)"],
        ),
        (
            """
        input: [4]
        blocks:
          a: {args: {width: 1}, layers: [relu]}
        layers:
          - a: {widht: 2}
     """,
            ["no argument 'widht'", "did you mean 'width'"],
        ),
        (
            """
        input: [4]
        blocks:
          a: {args: {w: null}, layers: [relu]}
        layers: [a]
     """,
            ["needs argument 'w'"],
        ),
        (
            """
        input: [4]
        layers:
          - relu: {from: later}
          - relu: {name: later}
     """,
            ["net.yaml:4:18", "points forward"],
        ),
        (
            """
        input: [4]
        layers:
          - relu: {from: nowhere}
     """,
            ["names no layer or input"],
        ),
        (
            """
        input: [4]
        blocks:
          a: {args: {w: 1}, layers: [{linear: "${x}"}]}
        layers: [a]
     """,
            ["uses 'x', which is not an argument"],
        ),
        (
            """
        input: [4]
        layers:
          - add
     """,
            ["layer 0 'add_1' (add): takes 2 or more inputs"],
        ),
        (
            """
        input: [4]
        layers:
          - parameter: {shape: [3], from: input}
     """,
            ["layer 0 'parameter_1' (parameter): takes no input"],
        ),
    ],
)
def test_graph_errors(text, words):
    message = error(text)
    for word in words:
        assert word in message


TIED = """
    input: [6]
    layers:
      - embedding: {num: 10, dim: 4, name: table}
      - linear: {out: 10, bias: false, tie: table}
"""


def test_tie_counts_shared_weights_once():
    tied, untied = run(TIED), run(TIED.replace(", tie: table", ""))
    head = tied.layers[1]
    assert head.tied_to == "table" and head.shared == head.weights == tied.layers[0].weights
    assert tied.totals.params == untied.totals.params - head.weights
    assert tied.totals.trainable == tied.totals.params and tied.totals.macs == untied.totals.macs


@pytest.mark.parametrize(
    "change, words",
    [
        (("bias: false, tie: table", "bias: false, tie: nowhere"), ["names no layer"]),
        (("linear: {out: 10,", "linear: {out: 9,"), ["tie: this weight is [9, 4], but 'table' has [10, 4]"]),
        (("linear: {out: 10, bias: false, tie: table}", "relu: {tie: table}"), ["cannot share weights"]),
    ],
)
def test_tie_errors(change, words):
    message = error(TIED.replace(*change))
    for word in words:
        assert word in message


def test_parameter_is_a_source_that_keeps_the_flow():
    report = run("""
        input: [4, 8]
        layers:
          - linear: {out: 8, name: x}
          - parameter: {shape: [1, 8], name: token}
          - relu
          - concat: {from: [token, relu_1], dim: 1}
    """)
    assert report.layers[2].inputs == ["x"]  # relu still follows the linear
    assert report.layers[1].inputs == [] and report.layers[1].params == 8
    assert report.output_shape == [5, 8]


def test_transformer_layer_reports_inner_rows():
    report = run("""
        input: [10, 16]
        layers:
          - transformerencoderlayer: {heads: 4, ff: 32, name: enc}
    """)
    names = [row.name for row in report.layers]
    assert names[:4] == ["enc.self_attn", "enc.dropout1", "enc.residual1", "enc.norm1"]
    (block,) = report.blocks
    assert block.name == "enc" and block.kind == "transformerencoderlayer" and block.last == len(names) - 1
    assert block.params == report.totals.params  # the counts themselves are checked against torch (golden)


def test_freeze_and_requires_grad_make_parameters_non_trainable():
    text = """
        input: [4, 8]
        layers:
          - linear: {out: 8, name: backbone, freeze: true}
          - parameter: {shape: [1, 8], requires_grad: false, name: fixed}
          - linear: {out: 2, name: head}
    """
    report = run(text)
    rows = {r.name: r for r in report.layers}
    assert rows["backbone"].trainable == 0 and rows["fixed"].trainable == 0
    assert rows["head"].trainable == rows["head"].params
    assert report.totals.non_trainable == rows["backbone"].params + rows["fixed"].params
    assert report.totals.trainable == rows["head"].params
    assert report.totals.params == run(text.replace(", freeze: true", "")).totals.params


def test_layers_written_alike_are_built_alike():
    rows = run("""
        input: [4, 8, 8]
        layers:
          - conv2d: {out: 4, kernel: 1}
          - conv2d: {out: 4, kernel: 1, bias: false}
          - conv2d: {out: 4, kernel: 1}
    """).layers
    assert rows[0].params == rows[2].params == rows[1].params + 4


@pytest.mark.parametrize(
    "shape, first, second, words",
    [
        ("[4]", "linear: {out: 4, bias: true}", "linear: {out: 4, bias: 1}", "field 'bias' expects true or false"),
        ("[4, 8, 8]", "conv2d: {out: 4, kernel: 3}", 'conv2d: {out: 4, kernel: "3"}', "found '3' (a string)"),
    ],
)
def test_a_layer_written_alike_but_for_a_value_type_is_read_on_its_own(shape, first, second, words):
    """A layer written with the ints and names of one above is built once; true is not 1, nor "3" 3."""
    message = error(f"""
        input: {shape}
        layers:
          - {first}
          - {second}
    """)
    assert "layer 1" in message and words in message


def test_a_repeated_block_builds_each_use_from_its_own_arguments_and_shapes():
    """Equal arguments build a block's layers once; a `shape()` field, or arguments equal in
    value but not in type, must not reuse a layer built for another use."""
    blocks = textwrap.dedent("""
        input: [4]
        blocks:
          grow:
            layers:
              - linear: {out: "${shape(input)[0] * 2}"}
          fixed:
            args: {bias: true}
            layers:
              - linear: {out: 3, bias: $bias}
        layers:
    """)
    report = run(blocks + "  - repeat: 3\n    grow: {}\n  - fixed: {bias: true}\n  - fixed: {}\n")
    assert [row.output_shape for row in report.layers] == [[8], [16], [32], [3], [3]]
    assert [row.bias for row in report.layers[3:]] == [3, 3]
    message = error(blocks + "  - fixed: {bias: true}\n  - fixed: {bias: 1}\n")
    assert "layer 1 'fixed_2.linear_1' (linear): field 'bias' expects true or false, found 1" in message


# -------------------------------------------------- repetitions stamped from the one before


def _graph_facts(text, stamping: bool, monkeypatch) -> object:
    """Everything a spec's graph holds, as plain values, or the error's message; built with
    repetitions stamped (as always) or each one expanded (stamp() declining every time)."""
    from paramcalc import graph

    with monkeypatch.context() as patch:
        if not stamping:
            patch.setattr(graph._Expander, "stamp", lambda *args: None)
        try:
            g = graph.build_graph(parse_spec(textwrap.dedent(text), "net.yaml"))
        except SpecError as e:
            return str(e)
    nodes = [(n.index, n.name, n.kind, repr(n.layer), n.inputs, n.loc, n.context, n.frozen, n.tie) for n in g.nodes]
    blocks = [(b.name, b.kind, b.loc, b.start, b.end, b.inputs, b.args, b.dense) for b in g.blocks]
    return nodes, blocks, g.outputs


STAMPED = """
    input: [4, 8, 8]
    blocks:
      unit:
        args: {width: 4, project: false}
        layers:
          - conv2d: {out: $width, kernel: 3, padding: 1, name: conv}
          - name: skip                 # skipped: its name stands for the block's input
            when: $project
            conv2d: {out: $width, kernel: 1}
          - name: branch
            layers:
              - conv2d: {out: $width, kernel: 3, padding: 1, tie: conv}
              - repeat: 2
                relu: {}
          - add: {from: [branch, input]}
          - mul: {from: [add_1, skip]}
    layers:
      - conv2d: {out: 4, kernel: 1, name: stem}
      - repeat: 12                     # 0-9 and 10-11: names of two lengths
        name: stage
        unit: {}
        first: {project: false}
      - repeat: 3
        name: wide
        unit: {width: 4}
"""


@pytest.mark.parametrize(
    "text",
    [
        STAMPED,
        # a repetition that reads a name from outside it is expanded each time ("stem" is also
        # the first repetition's input: renaming it as the input would be wrong from the second on)
        STAMPED.replace("- mul: {from: [add_1, skip]}", "- mul: {from: [add_1, stem]}").replace(
            "        first: {project: false}\n", ""
        ),
        # one that reads a shape: expanded each time
        STAMPED.replace("{width: 4}\n", '{width: "${shape(stem)[0]}"}\n'),
        # a name a repetition would take is already taken: the expansion reports it
        STAMPED.replace("name: stem}", "name: stem}\n      - relu: {name: stage.5.conv}"),
    ],
    ids=["stamped", "reads-outside", "reads-a-shape", "name-taken"],
)
def test_a_stamped_repetition_is_the_repetition_expanded(text, monkeypatch):
    stamped, expanded = _graph_facts(text, True, monkeypatch), _graph_facts(text, False, monkeypatch)
    assert stamped == expanded
    if "stage.5.conv}" in text:
        assert "duplicate layer name 'stage.5.conv'" in stamped


def test_repetitions_of_the_same_arguments_are_stamped(monkeypatch):
    """stage.2-9 from stage.1 (stage.0 has `first:` arguments), stage.11 from stage.10 (stage.10's
    names are a character longer), wide.1-2 from wide.0; the inner `repeat: 2` is a layer's."""
    stamped, _ = _stamped(STAMPED, monkeypatch)
    assert stamped == [True] * 8 + [False] + [True] + [True] * 2


def _stamped(text, monkeypatch):
    """Whether each repetition offered for stamping was stamped, and the graph."""
    from paramcalc import graph

    stamped = []
    stamp = graph._Expander.stamp

    def recorded(*args):
        stamped.append(stamp(*args))
        return stamped[-1]

    monkeypatch.setattr(graph._Expander, "stamp", recorded)
    g = graph.build_graph(parse_spec(textwrap.dedent(text), "net.yaml"))
    return [out is not None for out in stamped], g


SIZED_BY_INPUT = """
    input: [8, 4, 4]
    blocks:
      keep:                            # its width read from its input: shape-preserving
        layers:
          - conv2d: {out: "${shape(input)[0] * 2}", kernel: 1, name: wide}
          - conv2d: {out: "${shape(input)[0]}", kernel: 1, from: wide}
      grow:                            # each repetition twice as wide as the one before
        layers:
          - conv2d: {out: "${shape(input)[0] * 2}", kernel: 1}
    layers:
      - {repeat: 5, name: same, keep: {}}
      - {repeat: 3, name: wider, grow: {}}
"""


def test_a_repetition_that_reads_its_own_shapes_is_stamped_where_they_repeat(monkeypatch):
    """A block sized by shape(input): stamped where its output has its input's shape (same.1-4 from
    same.0), expanded again where it does not (wider: 8, 16, 32 channels)."""
    assert _graph_facts(SIZED_BY_INPUT, True, monkeypatch) == _graph_facts(SIZED_BY_INPUT, False, monkeypatch)
    stamped, g = _stamped(SIZED_BY_INPUT, monkeypatch)
    assert stamped == [True] * 4
    assert [n.layer.out for n in g.nodes if n.name.startswith("wider.")] == [16, 32, 64]


def test_a_stamped_repetition_keeps_the_budgets(monkeypatch):

    monkeypatch.setattr("paramcalc.expansion.state.MAX_LAYERS", 40)  # reached inside the 5th repetition of 8 layers
    facts = _graph_facts(STAMPED, True, monkeypatch)
    assert facts == _graph_facts(STAMPED, False, monkeypatch) and "more than 40 layers" in facts


@pytest.mark.parametrize("path", sorted(glob.glob("specs/*.yaml")), ids=lambda p: p[6:-5])
def test_zoo_graphs_are_the_same_stamped(path, monkeypatch):
    text = open(path).read()
    assert _graph_facts(text, True, monkeypatch) == _graph_facts(text, False, monkeypatch)


# -------------------------------------------------- names: copies and items named by a pattern

NAMED = """
    input: [4, 8, 8]
    blocks:
      unit:
        args: {skip: false}
        layers:
          - name: conv
            names: "{i}"
            layers:
              - conv2d: {out: 4, kernel: 1}
                when: "${not skip}"
              - conv2d: {out: 4, kernel: 3, padding: 1}
              - relu
    layers:
      - name: features
        names: "{i}"
        layers:
          - conv2d: {out: 4, kernel: 1}
          - repeat: 3
            unit: {}
            first: {skip: true}
          - repeat: 2
            name: dense
            names: layer{n}
            unit: {}
          - relu
"""


def test_a_group_numbers_its_items_and_a_repeat_names_its_copies():
    """torchvision's names: a Sequential's items 0, 1, ... (a repeat inside adds each copy as an item,
    a skipped item takes no number), and a repeat's copies by a pattern (denselayer1, 1-based)."""
    report = analyze(parse_spec(textwrap.dedent(NAMED), "net.yaml"))
    assert [row.name for row in report.layers] == [
        "features.0",
        "features.1.conv.0",  # the first copy skips its first conv: its second takes number 0
        "features.1.conv.1",
        *[f"features.{n}.conv.{i}" for n in (2, 3) for i in range(3)],
        *[f"features.dense.{copy}.conv.{i}" for copy in ("layer1", "layer2") for i in range(3)],
        "features.4",  # an item with a name of its own (dense) takes no number
    ]
    blocks = {b.name: b.kind for b in report.blocks}
    assert blocks["features.1-3"] == "unit ×3" and blocks["features.dense"] == "unit ×2"
    assert "features.dense.layer2" in blocks and "features.1" in blocks


@pytest.mark.parametrize(
    "names, message",
    [
        ("layer", "'names' expects a name with {i} (0, 1, ...) or {n} (1, 2, ...) in it"),
        ("3", "'names' expects a name with {i}"),
        ('"a b{n}"', "'names' pattern"),
    ],
)
def test_a_bad_names_pattern_is_refused(names, message):
    text = f"input: [4]\nlayers:\n  - repeat: 2\n    names: {names}\n    relu: {{}}\n"
    assert message in error(text)


def test_names_goes_with_a_repeat_or_a_group():
    assert "'names' goes with 'repeat' or a group of layers" in error(
        'input: [4]\nlayers:\n  - relu: {}\n    names: "{i}"\n'
    )


def test_named_copies_are_the_same_stamped(monkeypatch):
    assert _graph_facts(NAMED, True, monkeypatch) == _graph_facts(NAMED, False, monkeypatch)


# -------------------------------------------------- connect: dense (DenseNet's dense block)

DENSE = """
    input: [4, 8, 8]
    blocks:
      unit:
        args: {growth: 2}
        layers:
          - batchnorm2d: {name: norm}
          - conv2d: {out: $growth, kernel: 3, padding: 1, bias: false, name: conv}
    layers:
      - repeat: 3
        name: block
        names: layer{n}
        connect: dense
        unit: {}
      - relu
"""


def test_a_dense_repeat_reads_its_input_and_every_earlier_copy():
    """Each copy reads the repeat's input and every earlier copy's output, concatenated (channels); the
    repeat's output is all of them concatenated: DenseNet's dense block, whose layers give 2 channels each."""
    report = run(DENSE)
    rows = {row.name: row for row in report.layers}
    assert list(rows) == [
        "block.layer1.norm",
        "block.layer1.conv",
        "block.concat_1",
        "block.layer2.norm",
        "block.layer2.conv",
        "block.concat_2",
        "block.layer3.norm",
        "block.layer3.conv",
        "block.concat_3",
        "relu_1",
    ]
    assert rows["block.layer1.norm"].inputs == ["input"]
    assert rows["block.concat_1"].inputs == ["input", "block.layer1.conv"]
    assert rows["block.layer2.norm"].inputs == ["block.concat_1"]
    assert rows["block.concat_3"].inputs == ["input", "block.layer1.conv", "block.layer2.conv", "block.layer3.conv"]
    assert [rows[f"block.concat_{n}"].output_shape for n in (1, 2, 3)] == [[6, 8, 8], [8, 8, 8], [10, 8, 8]]
    blocks = {b.name: b for b in report.blocks}
    assert blocks["block.layer2"].output_shape == [2, 8, 8]  # a layer's own features, as torchvision's
    assert blocks["block"].output_shape == [10, 8, 8] and blocks["block"].kind == "unit ×3"
    # weights 4·2·9, 6·2·9, 8·2·9 and the norms' 2·(4 + 6 + 8): what the growing inputs make them
    assert report.totals.params == 18 * (4 + 6 + 8) + 2 * (4 + 6 + 8)


def test_dense_repeats_are_the_same_stamped(monkeypatch):
    """Copies stamped from the one before (and a dense repeat inside a repeated block) build the same graph."""
    twice = textwrap.dedent(
        """
        input: [4, 8, 8]
        blocks:
          unit:
            layers:
              - conv2d: {out: 2, kernel: 3, padding: 1}
          dense:
            layers:
              - repeat: 12
                connect: dense
                unit: {}
              - conv2d: {out: 4, kernel: 1}
        layers:
          - repeat: 3
            dense: {}
        """
    )
    for text in (DENSE, twice):
        facts = _graph_facts(text, True, monkeypatch)
        assert facts == _graph_facts(text, False, monkeypatch)
    assert any(block[-1] for block in _graph_facts(twice, True, monkeypatch)[1][3:])  # the stamped ones are dense


def test_a_dense_repeat_in_a_numbered_group_is_one_item():
    """In a group with `names: "{i}"`, a dense repeat without a name is one item (torchvision's
    features.4 = _DenseBlock), not one per copy."""
    report = run(
        """
        input: [4, 8, 8]
        layers:
          - name: features
            names: "{i}"
            layers:
              - relu
              - repeat: 2
                connect: dense
                conv2d: {out: 2, kernel: 1}
              - relu
        """
    )
    assert [row.name for row in report.layers] == [
        "features.0",
        "features.1.0",
        "features.1.concat_1",
        "features.1.1",
        "features.1.concat_2",
        "features.2",
    ]


@pytest.mark.parametrize(
    "line, message",
    [
        ("connect: dence", "'connect' expects dense (each copy reads the repeat's input and every earlier"),
        ("connect: [dense]", "found ['dense'] (a list)"),
        ("connect: dense\n    first: {stride: 2}", "inputs must match in every dim but dim 1"),
    ],
)
def test_a_bad_dense_repeat_is_refused(line, message):
    text = f"input: [4, 8, 8]\nlayers:\n  - repeat: 2\n    {line}\n    conv2d: {{out: 2, kernel: 3, padding: 1}}\n"
    assert message in error(text)


def test_connect_goes_with_a_repeat():
    assert "'connect' only goes with 'repeat'" in error("input: [4]\nlayers:\n  - relu: {}\n    connect: dense\n")
    # checked where the repeat adds nothing too
    assert "'connect' expects dense" in error("input: [4]\nlayers:\n  - {repeat: 0, connect: dence, relu: {}}\n")


def test_a_runaway_dense_repeat_is_refused_before_expanding():
    """repeat: N with connect: dense makes concatenations of 2, 3, ..., N + 1 tensors: N²/2 reads."""
    text = "input: [4]\nlayers:\n  - repeat: 5000\n    connect: dense\n    linear: 1\n"
    assert "'repeat: 5,000' with 'connect: dense' makes layers that read 12,507,500 tensors" in error(text)


def test_dense_repeat_at_the_command_line(tmp_path):
    """What a user sees: the analysis, and a misspelt value located, with its suggestion, exit 2."""
    spec = tmp_path / "dense.yaml"
    spec.write_text(textwrap.dedent(DENSE))
    out = run_cli("analyze", str(spec), "--format", "json")
    assert out.returncode == 0 and not out.stderr
    import json

    layers = {row["name"]: row for row in json.loads(out.stdout)["layers"]}
    assert layers["block.concat_2"]["inputs"] == ["input", "block.layer1.conv", "block.layer2.conv"]
    spec.write_text(textwrap.dedent(DENSE).replace("connect: dense", "connect: dence"))
    bad = run_cli("analyze", str(spec))
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.startswith(f"error: {spec}:13:14: 'connect' expects dense")
    assert "did you mean 'dense'?" in bad.stderr and "Traceback" not in bad.stderr
