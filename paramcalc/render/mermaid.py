"""A Mermaid flowchart: renders in GitHub Markdown, pull-request comments and most docs sites."""

from __future__ import annotations

import json

from .picture import label_lines, picture, visible

# Mermaid decodes #name; and #code; entities in labels; everything that could end a quoted label,
# open markup or an entity is written as one, and so is `%`: Mermaid reads a directive
# (`%%{init: {"securityLevel": "loose"}}%%`) anywhere in the text, and `%%` starts a comment.
_ENTITIES = {'"': "#quot;", "#": "#35;", "&": "#amp;", "<": "#lt;", ">": "#gt;", "`": "#96;", "%": "#37;"}


def escape(text) -> str:
    return "".join(_ENTITIES.get(c, c) for c in visible(text))


def _label(lines) -> str:
    return '"' + "<br/>".join(escape(line) for line in lines) + '"'


def render_mermaid(report, depth=None) -> str:
    pic = picture(report, depth)
    nodes = {n.id: n for n in pic.nodes}
    # The title is a YAML double-quoted string, which decodes \u0025 as `%`: no `%%` in the text.
    title = json.dumps(visible(pic.name)).replace("%", "\\u0025")
    out = ["---", f"title: {title}", "---", "flowchart TD"]

    def emit(node_ids, cluster_ids, indent):
        pad = "  " * indent
        for nid in node_ids:
            node = nodes[nid]
            shape = "([{}])" if node.kind == "input" else "[{}]"
            out.append(pad + nid + shape.format(_label(label_lines(node))))
        for cid in cluster_ids:
            cluster = pic.clusters[cid]
            out.append(f"{pad}subgraph {cid}[{_label([f'{cluster.name} · {cluster.kind}'])}]")
            emit(cluster.nodes, cluster.clusters, indent + 1)
            out.append(pad + "end")

    emit(*pic.top(), 1)
    out += [f"  {a} --> {b}" for a, b in pic.edges]
    out += [f"  {a} -.->|tied| {b}" for a, b in pic.ties]
    return "\n".join(out) + "\n"
