"""``to_dot``: an :class:`~graphscope.model.AutogradGraph` as DOT text. A pure translation.

Every choice of colour, shape, wording and grouping is :mod:`graphscope.style`'s; this module
only writes what style returns as DOT (through the ``graphviz`` package, which quotes), byte
for byte the same for the same graph.
"""

from __future__ import annotations

from typing import Any

import graphviz

from graphscope import style
from graphscope.model import AutogradGraph
from graphscope.options import Options

__all__ = ["to_dot"]


def to_dot(graph: AutogradGraph, options: Options | None = None) -> str:
    """DOT text for ``graph`` (already collapsed, if it needed to be). Byte-identical per graph."""
    options = options or Options()
    graph_attr = style.graph_attrs(options)
    note = style.caption(graph, options)
    if note is not None:
        graph_attr.update(label=note, labelloc="b", labeljust="l")
    dot = graphviz.Digraph(
        name="autograd",
        graph_attr=graph_attr,
        node_attr=style.default_node_attrs(),
        edge_attr=style.default_edge_attrs(),
    )
    tree = style.module_tree(graph) if options.show_modules else None
    placed: set[str] = set()
    if tree:
        _emit_clusters(dot, graph, options, tree, "", placed)
    for n, d in graph.nodes(data=True):
        if n not in placed:
            dot.node(_dot_id(n), **style.node_style(d, options, graph.findings_at(n)))
    stale = style.stale_edges(graph)
    for u, v, d in graph.edges(data=True):
        dot.edge(_dot_id(u), _dot_id(v), **style.edge_style(d, stale=(u, v) in stale))
    if options.show_legend and len(graph):
        keys = style.legend_keys(d for _, d in graph.nodes(data=True))
        legend = style.legend_node(keys | style.finding_keys(graph.findings))
        if legend is not None:
            dot.node("legend_table", **legend)
    return dot.source


def _emit_clusters(
    dot: Any,
    graph: AutogradGraph,
    options: Options,
    tree: dict[str, list[str]],
    parent: str,
    placed: set[str],
) -> None:
    """Nested ``cluster_`` subgraphs for the module paths under ``parent``."""
    depth = parent.count(".") + 1 if parent else 0
    children = [
        p for p in tree if (p.count(".") == depth) and (not parent or p.startswith(parent + "."))
    ]
    for path in children:
        with dot.subgraph(name="cluster_" + _dot_id(path)) as sub:
            sub.attr(label=style.cluster_label(graph, path, parent), **style.cluster_attrs())
            for n in tree[path]:
                d = graph.nodes[n]
                sub.node(_dot_id(n), **style.node_style(d, options, graph.findings_at(n), path))
                placed.add(n)
            _emit_clusters(sub, graph, options, tree, path, placed)


def _dot_id(node: str) -> str:
    """A node id DOT reads as one name: ``a:b`` in an edge would mean node ``a``, port ``b``."""
    return node.replace(":", "__")
