"""What a graph picture shows (Mermaid, DOT): nodes, edges and nested clusters, at a depth.

Without a depth every layer is a node and every block a cluster around its layers; with `--depth N`
the blocks at depth N are single nodes, the blocks above them clusters, as the table's tree."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import shape_text


@dataclass
class Node:
    id: str
    name: str
    kind: str  # "input" for a network input
    shape: str
    params: int
    cluster: str | None  # the id of the cluster it sits in


@dataclass
class Cluster:
    id: str
    name: str
    kind: str
    parent: str | None
    nodes: list[str] = field(default_factory=list)
    clusters: list[str] = field(default_factory=list)


@dataclass
class Picture:
    name: str
    nodes: list[Node]
    clusters: dict[str, Cluster]
    edges: list[tuple[str, str]]
    ties: list[tuple[str, str]]  # weight owner -> the layer that shares it, drawn dashed

    def top(self) -> tuple[list[str], list[str]]:
        """The nodes and clusters outside every cluster."""
        return (
            [n.id for n in self.nodes if n.cluster is None],
            [c.id for c in self.clusters.values() if c.parent is None],
        )


def picture(report, depth: int | None = None) -> Picture:
    clusters: dict[str, Cluster] = {}
    cluster_of: dict[str, str] = {}  # block name -> cluster id
    collapsed = {}  # block name -> node id
    nodes: list[Node] = []
    unit: dict[str, str] = {}  # layer or input name -> the node that shows it

    def open_cluster(block):
        cid = f"c{len(clusters)}"
        parent = cluster_of.get(block.path[-1]) if block.path else None
        clusters[cid] = Cluster(cid, block.name, block.kind, parent)
        if parent:
            clusters[parent].clusters.append(cid)
        cluster_of[block.name] = cid

    def add_node(name, kind, shape, params, parent_block):
        nid = f"n{len(nodes)}"
        cid = cluster_of.get(parent_block) if parent_block else None
        nodes.append(Node(nid, name, kind, shape, params, cid))
        if cid:
            clusters[cid].nodes.append(nid)
        return nid

    for name, shape in report.inputs.items():
        unit[name] = add_node(name, "input", shape_text(shape), 0, None)
    blocks = {b.name: b for b in report.blocks}
    for row in report.layers:
        for block_name in row.path:
            block = blocks[block_name]
            if block_name in cluster_of or block_name in collapsed:
                continue
            if depth and block.depth == depth:
                collapsed[block_name] = add_node(
                    block.name,
                    block.kind,
                    shape_text(block.output_shape),
                    block.params - block.shared,
                    block.path[-1] if block.path else None,
                )
            elif not depth or block.depth < depth:
                open_cluster(block)
        if depth and len(row.path) >= depth:
            unit[row.name] = collapsed[row.path[depth - 1]]
        else:
            unit[row.name] = add_node(
                row.name,
                row.kind,
                shape_text(row.output_shape),
                row.params - row.shared,
                row.path[-1] if row.path else None,
            )
    edges, ties = [], []
    for row in report.layers:
        target = unit[row.name]
        for source in (unit[name] for name in row.inputs):
            if source != target and (source, target) not in edges:
                edges.append((source, target))
        if row.tied_to and unit[row.tied_to] != target:
            ties.append((unit[row.tied_to], target))
    return Picture(report.name, nodes, clusters, edges, list(dict.fromkeys(ties)))


def visible(text: str) -> str:
    """Control characters (a newline in a name) as their visible symbols, so no label breaks."""
    return "".join(c if c.isprintable() else chr(0x2400 + ord(c)) if ord(c) < 32 else "\ufffd" for c in str(text))


def label_lines(node: Node) -> list[str]:
    if node.kind == "input":
        return [node.name, node.shape]
    lines = [node.name, f"{node.kind} · {node.shape}"]
    if node.params:
        lines.append(f"{node.params:,} params")
    return lines
