from ..escape import markdown, markdown_code
from . import human, human_bytes, human_params, is_collapsed, params_note, shape_text, visible_rows


def render_markdown(report, depth=None) -> str:
    """A GitHub-flavoured table, numbers right-aligned, a totals row and a one-line summary."""
    t = report.totals
    lines = [
        f"### {markdown(report.name)}",
        "",
        "| # | name | kind | input | output | params | MACs |",
        "|--:|:-----|:-----|:------|:-------|-------:|-----:|",
    ]
    for row in visible_rows(report, depth):
        index = f"{row.first}–{row.last}" if hasattr(row, "first") else row.index
        ins = ", ".join(shape_text(s) for s in row.input_shapes)
        indent = "&nbsp;&nbsp;" * len(row.path) if depth else ""
        more = " …" if is_collapsed(row, depth) else ""
        lines.append(
            f"| {index} | {indent}{markdown_code(row.name)}{more} | {markdown(row.kind)} | {ins} | "
            f"{shape_text(row.output_shape)} | {row.params:,}{markdown(params_note(row))} | {row.macs:,} |"
        )
    lines.append(
        f"| | **total** | | {shape_text(report.input_shape)} | {shape_text(report.output_shape)} | "
        f"**{t.params:,}** | **{t.macs:,}** |"
    )
    lines += [
        "",
        f"{human_params(t.params)} params ({t.trainable:,} trainable), {human(t.macs, 'MACs')}, "
        f"{human_bytes(t.param_bytes)} of {report.dtype} parameters, batch {report.batch}.",
    ]
    return "\n".join(lines) + "\n"
