import csv
import io

from ..escape import csv_cell
from . import shape_text

COLUMNS = (
    "index",
    "name",
    "kind",
    "inputs",
    "input_shapes",
    "output_shape",
    "weights",
    "bias",
    "params",
    "trainable",
    "buffers",
    "macs",
    "param_bytes",
    "shared",
    "tied_to",
    "activation_bytes",
    "saved_bytes",
)


def render_csv(report) -> str:
    """One row per leaf layer; shapes as 64x112x112, several inputs separated by ';'."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in report.layers:
        writer.writerow(
            [
                row.index,
                csv_cell(row.name),
                csv_cell(row.kind),
                csv_cell(";".join(row.inputs)),
                ";".join(shape_text(s, "x") for s in row.input_shapes),
                shape_text(row.output_shape, "x"),
                row.weights,
                row.bias,
                row.params,
                row.trainable,
                row.buffers,
                row.macs,
                row.param_bytes,
                row.shared,
                csv_cell(row.tied_to or ""),
                row.activation_bytes,
                row.saved_bytes,
            ]
        )
    return out.getvalue()
