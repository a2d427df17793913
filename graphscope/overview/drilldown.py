"""Drill-downs: the part of a graph a group stands for, with its neighbours at the border.

A module group's drill-down holds its module's nodes, a fold's the one copy in its ``unit``
(``layers.0`` for ``layers.0–5 ×6``, one step of a loop); the nodes just outside are kept as
``boundary=True`` so the picture shows where data comes from and goes to. The edges that carry
a loop's state into the next step are marked with the loop variables' names (``state``).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

from graphscope.errors import UsageError
from graphscope.model import GROUP, AutogradGraph
from graphscope.overview.grouping import prefixes, resolve
from graphscope.overview.index import Index, split

__all__ = ["subgraph_for", "plan_drilldown", "drill_nodes", "subgraph"]


def subgraph_for(graph: AutogradGraph, path: str) -> AutogradGraph:
    """The nodes of module ``path``'s subtree, plus their neighbours marked ``boundary=True``."""
    if not split(path):
        raise UsageError("subgraph_for needs a module path such as 'encoder.layers.0' (got '')")
    ix = Index(graph)
    want = resolve(ix, prefixes(ix), path, "subgraph_for")
    k = len(want)
    return subgraph(graph, [ix.ids[i] for i, p in enumerate(ix.paths) if p[:k] == want])


def drill_nodes(graph: AutogradGraph, group: str, data: dict[str, object]) -> list[str]:
    """The nodes of ``graph`` that group ``group`` (of a picture made from it) opens onto."""
    ids = data.get("unit") or data.get("members") or ()
    assert isinstance(ids, list)
    return [n for n in ids if n in graph]


def plan_drilldown(graph: AutogradGraph, collapsed: AutogradGraph) -> dict[str, AutogradGraph]:
    """One drill-down graph per group of ``collapsed`` (made from ``graph``), keyed by group id.

    Each is smaller than ``graph``, so drilling down always ends. Groups of neighbours
    (``boundary``) open nothing.
    """
    plans: dict[str, AutogradGraph] = {}
    for gid, d in collapsed.nodes(data=True):
        if d.get("kind") != GROUP or d.get("boundary"):
            continue
        ids = drill_nodes(graph, gid, d)
        if not ids:
            continue
        sub = subgraph(graph, ids, state=d.get("state") or {}, members=d.get("members") or ())
        if len(ids) < len(graph):
            plans[gid] = sub
    return plans


def subgraph(
    graph: AutogradGraph,
    ids: Iterable[str],
    *,
    state: dict[str, list[str]] | None = None,
    members: Iterable[str] = (),
) -> AutogradGraph:
    """``ids`` and their neighbours (``boundary=True``); ``state``: the unit's ops whose edges
    into the next copy (a node of ``members`` outside ``ids``) carry the loop's variables.

    The other readers of a parameter inside (the other 299 steps of a loop, a tied weight's
    other module) are not neighbours: they say nothing about this part, unless ``ids`` are
    leaves only (a bundle of the parameters one op reads: that op is what they are for)."""
    inside = set(ids)
    bundle = all(_is_leaf(graph, n) for n in inside)
    border: set[str] = set()
    for n in inside:
        border.update(graph.pred[n])
        if bundle or not _is_leaf(graph, n):
            border.update(graph.succ[n])
    border -= inside
    g = AutogradGraph()
    g.graph.update(copy.deepcopy(graph.graph))
    g.graph["roots"] = [r for r in graph.graph.get("roots") or () if r in inside or r in border]
    for n, d in graph.nodes(data=True):
        if n in inside:
            g.add_node(n, **copy.deepcopy(d))
        elif n in border:
            g.add_node(n, **{**copy.deepcopy(d), "boundary": True})
    for u, v, d in graph.edges(data=True):
        if (u in inside and (v in inside or v in border)) or (v in inside and u in border):
            if u in inside and v in border and not bundle and _is_leaf(graph, u):
                continue  # a leaf inside feeding outside: not drawn (see above)
            g.add_edge(u, v, **copy.deepcopy(d))
    if state:
        _mark_state(graph, g, inside, state, set(members))
    found = tuple(f for f in graph.findings if any(n in g for n in f.marked))
    if found or "findings" in g.graph:
        g.graph["findings"] = found
    return g


def _is_leaf(graph: AutogradGraph, n: str) -> bool:
    return not graph.pred[n] and graph.nodes[n].get("kind") == "tensor"


def _mark_state(
    graph: AutogradGraph,
    g: AutogradGraph,
    inside: set[str],
    state: dict[str, list[str]],
    members: set[str],
) -> None:
    """Name the edges that carry the loop's state: from the step before into the unit, and
    from the unit into the step after."""
    for op, names in state.items():
        if op not in g:
            continue
        made = [t for t in graph.succ[op] if t in g and graph.nodes[t].get("kind") != "op"]
        for s in [op, *made]:
            for v in list(g.succ[s]):
                if (s in inside) != (v in inside) and (v in members or s in members):
                    g.edges[s, v]["state"] = list(names)
