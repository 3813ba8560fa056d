"""Graphviz DOT: `paramcalc analyze spec.yaml -f dot | dot -Tsvg > net.svg`."""

from __future__ import annotations

from .picture import label_lines, picture, visible


def escape(text) -> str:
    """A DOT quoted string's body: backslashes and quotes escaped, and & as an entity, since
    Graphviz decodes HTML entities in labels."""
    return visible(text).replace("\\", "\\\\").replace('"', '\\"').replace("&", "&amp;")


def _label(lines) -> str:
    return '"' + "\\n".join(escape(line) for line in lines) + '"'


def render_dot(report, depth=None) -> str:
    pic = picture(report, depth)
    nodes = {n.id: n for n in pic.nodes}
    out = [
        f'digraph "{escape(pic.name)}" {{',
        "  rankdir=TB;",
        '  node [shape=box, style=rounded, fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]

    def emit(node_ids, cluster_ids, indent):
        pad = "  " * indent
        for nid in node_ids:
            node = nodes[nid]
            shape = ", shape=oval" if node.kind == "input" else ""
            out.append(f"{pad}{nid} [label={_label(label_lines(node))}{shape}];")
        for cid in cluster_ids:
            cluster = pic.clusters[cid]
            out.append(f"{pad}subgraph cluster_{cid} {{")
            out.append(f"{pad}  label={_label([f'{cluster.name} · {cluster.kind}'])}; style=rounded;")
            emit(cluster.nodes, cluster.clusters, indent + 1)
            out.append(pad + "}")

    emit(*pic.top(), 1)
    out += [f"  {a} -> {b};" for a, b in pic.edges]
    out += [f'  {a} -> {b} [style=dashed, label="tied"];' for a, b in pic.ties]
    return "\n".join(out) + "\n}\n"
