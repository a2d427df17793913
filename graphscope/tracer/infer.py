"""Modules for a graph traced without the recorder, inferred from the parameters ops read.

``trace()`` alone sees no module hooks, so its ops have no ``module``; their parameters do
(``encoder.layers.0.linear1.weight`` belongs to ``encoder.layers.0.linear1``). An op that reads
parameters belongs to their module (the deepest module holding all of them); any other op to the
deepest module holding both the module of the most recent op that fed it and that of the first
op it feeds (a ``ReLU`` between ``layers.0.linear1`` and ``layers.0.linear2`` belongs to
``layers.0``; an op between ``layers.0`` and ``layers.1`` to ``layers.1``; an op after the
last module, such as the loss, to none). Sets
``graph.graph["modules_inferred"]`` when any op got a module this way.
"""

from __future__ import annotations

from graphscope.model import OP, TENSOR, AutogradGraph

__all__ = ["infer_modules"]


def infer_modules(graph: AutogradGraph) -> None:
    """Fill the ``module`` of ``graph``'s ops from the parameters they read (in place: the
    graph is the tracer's own until it returns it)."""
    ops = [n for n, d in graph.nodes(data=True) if d.get("kind") == OP]
    if not ops or any(graph.nodes[n].get("module") for n in ops):
        return
    ops.sort(key=lambda n: graph.nodes[n].get("order", 0))
    own: dict[str, str | None] = {n: _read_params(graph, n) for n in ops}
    if not any(own.values()):
        return
    rank = {n: k for k, n in enumerate(ops)}
    up: dict[str, str | None] = {}
    for n in ops:
        feeders = sorted(_ops_before(graph, n), key=rank.__getitem__)
        up[n] = own[n] if own[n] is not None else (up[feeders[-1]] if feeders else None)
    down: dict[str, str | None] = {}
    for n in reversed(ops):
        fed = sorted(_ops_after(graph, n), key=rank.__getitem__)
        down[n] = own[n] if own[n] is not None else (down[fed[0]] if fed else None)
    for n in ops:
        mod, a, b = own[n], up[n], down[n]
        if mod is None and a is not None and b is not None:
            mod = _between(a, b)
        graph.nodes[n]["module"] = mod
    graph.graph["modules_inferred"] = True


def _read_params(graph: AutogradGraph, op: str) -> str | None:
    mods = [
        graph.nodes[p]["module"]
        for p in graph.pred[op]
        if graph.nodes[p].get("kind") == TENSOR and graph.nodes[p].get("module")
    ]
    if not mods:
        return None
    out = mods[0]
    for m in mods[1:]:
        out = _common(out, m) or ""
    return out or None


def _ops_before(graph: AutogradGraph, op: str) -> list[str]:
    out = []
    for p in graph.pred[op]:
        if graph.nodes[p].get("kind") == OP:
            out.append(p)
        else:
            out.extend(q for q in graph.pred[p] if graph.nodes[q].get("kind") == OP)
    return out


def _ops_after(graph: AutogradGraph, op: str) -> list[str]:
    out = []
    for s in graph.succ[op]:
        if graph.nodes[s].get("kind") == OP:
            out.append(s)
        else:
            out.extend(q for q in graph.succ[s] if graph.nodes[q].get("kind") == OP)
    return out


def _between(up: str, down: str) -> str | None:
    """The module of an op after ``up``'s and before ``down``'s: their common module, but
    the next one of a list (``layers.0`` ... ``layers.1``) when they are two of its items
    (what comes between two layers prepares the second one's input)."""
    common = _common(up, down)
    k = len(common.split(".")) if common else 0
    pa, pb = up.split("."), down.split(".")
    if len(pa) > k and len(pb) > k and pa[k].isdigit() and pb[k].isdigit():
        return ".".join(pb[: k + 1])
    return common


def _common(a: str | None, b: str | None) -> str | None:
    """The deepest module holding both (``a.b.c``, ``a.b.d`` -> ``a.b``)."""
    if a is None or b is None:
        return None
    pa, pb = a.split("."), b.split(".")
    k = 0
    while k < min(len(pa), len(pb)) and pa[k] == pb[k]:
        k += 1
    return ".".join(pa[:k]) or None
