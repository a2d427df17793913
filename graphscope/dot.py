"""``to_dot``: an :class:`~graphscope.model.AutogradGraph` as DOT text. A pure translation.

Every choice of colour, shape, wording and grouping is :mod:`graphscope.style`'s; this module
only writes what style returns as DOT (through the ``graphviz`` package, which quotes), byte
for byte the same for the same graph.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import graphviz

from graphscope import style
from graphscope.model import AutogradGraph
from graphscope.options import Options

__all__ = ["to_dot", "dot_id"]


def to_dot(graph: AutogradGraph, options: Options | None = None) -> str:
    """DOT text for ``graph`` (already collapsed, if it needed to be). Byte-identical per graph."""
    options = options or Options()
    dot = graphviz.Digraph(
        name="autograd",
        graph_attr=style.graph_attrs(options),
        node_attr=style.default_node_attrs(),
        edge_attr=style.default_edge_attrs(),
    )
    tree = style.module_tree(graph) if options.show_modules else None
    placed: set[str] = set()
    if tree:
        _emit_clusters(dot, graph, options, tree, "", placed)
    for n, d in graph.nodes(data=True):
        if n not in placed:
            dot.node(dot_id(n), **style.node_style(d, options, graph.findings_at(n)))
    stale = style.stale_edges(graph)
    for u, v, d in graph.edges(data=True):
        dot.edge(dot_id(u), dot_id(v), **style.edge_style(d, stale=(u, v) in stale))
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
        with dot.subgraph(name="cluster_" + dot_id(path)) as sub:
            sub.attr(
                label=style.esc(path.rpartition(".")[2] if parent else path),
                **style.cluster_attrs(),
            )
            for n in tree[path]:
                sub.node(
                    dot_id(n), **style.node_style(graph.nodes[n], options, graph.findings_at(n))
                )
                placed.add(n)
            _emit_clusters(sub, graph, options, tree, path, placed)


_PLAIN_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def dot_id(text: str) -> str:
    """The DOT name of a node id or module path: the text itself when it is a plain identifier
    (``n12``), else ``_`` and a stable hash of it. Never built from raw text: a name may hold
    quotes, backslashes (a trailing one would escape DOT's closing quote), ``:`` (a port),
    newlines, anything. The SVG's ``<title>`` of a node is this name.

    >>> dot_id("n12"), dot_id('g:layers.0 "x"')
    ('n12', '_965c1205acfb7ca614ea')
    """
    if _PLAIN_ID.fullmatch(text):
        return text
    return "_" + hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:20]
