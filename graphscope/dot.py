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
            sub.attr(label=style.cluster_label(graph, path, parent), **style.cluster_attrs())
            for n in tree[path]:
                d = graph.nodes[n]
                sub.node(dot_id(n), **style.node_style(d, options, graph.findings_at(n), path))
                placed.add(n)
            _emit_clusters(sub, graph, options, tree, path, placed)


_PLAIN_ID = re.compile(r"[A-Za-z0-9_.\-]{1,128}")


def dot_id(text: str) -> str:
    """The DOT name of a node id or module path: the text itself when it holds only ASCII
    letters, digits and ``_.-`` (``n12``, ``encoder.layers.0``; ``:`` becomes ``__``, as ``a:b``
    in an edge would mean node ``a``, port ``b``), else ``_`` and a stable hash of it. Never
    built from raw text: a name may hold quotes, backslashes (a trailing one would escape DOT's
    closing quote), newlines, anything. The SVG's ``<title>`` of a node is this name.

    >>> dot_id("n12"), dot_id("g:layers.0"), dot_id('g:layers.0 "x"')
    ('n12', 'g__layers.0', '_965c1205acfb7ca614ea')
    """
    plain = text.replace(":", "__")
    if _PLAIN_ID.fullmatch(plain):
        return plain
    return "_" + hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:20]


_dot_id = dot_id  # the explorer's name for it
