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

import functools
from collections.abc import Iterable, Mapping
from typing import Any

from graphscope.model import OP, TENSOR, AutogradGraph

__all__ = ["infer_modules"]


def infer_modules(graph: AutogradGraph) -> None:
    """Fill the ``module`` of ``graph``'s ops from the parameters they read (in place: the
    graph is the tracer's own until it returns it)."""
    data = dict(graph.nodes(data=True))  # the node dicts themselves: plain lookups from here
    ops = [n for n, d in data.items() if d.get("kind") == OP]
    if not ops or any(data[n].get("module") for n in ops):
        return
    if not any(d.get("module") for d in data.values() if d.get("kind") == TENSOR):
        return  # no parameter with a module: nothing to infer from
    succ = dict(graph.adjacency())  # read only: networkx's own neighbour dicts
    pred: dict[str, list[str]] = {n: [] for n in data}
    for u, nbrs in succ.items():
        for v in nbrs:
            pred[v].append(u)
    own: dict[str, str | None] = {n: _read_params(data, pred[n]) for n in ops}
    if not any(own.values()):
        return
    ops.sort(key=lambda n: data[n].get("order", 0))
    rank = {n: k for k, n in enumerate(ops)}
    free = [n for n in ops if own[n] is None]  # the ops whose module is to be inferred
    up, down = dict(own), dict(own)
    for n in free:  # forward order: an op's feeders come first
        feeders = _ops_next(data, pred, n)
        up[n] = up[max(feeders, key=rank.__getitem__)] if feeders else None
    for n in reversed(free):
        fed = _ops_next(data, succ, n)
        down[n] = down[min(fed, key=rank.__getitem__)] if fed else None
    for n in free:
        a, b = up[n], down[n]
        if a is not None and b is not None:
            data[n]["module"] = _between(a, b)
    for n in ops:
        if own[n] is not None:
            data[n]["module"] = own[n]
    graph.graph["modules_inferred"] = True


def _read_params(data: dict[str, dict[str, Any]], inputs: list[str]) -> str | None:
    """The deepest module holding every parameter among an op's ``inputs``."""
    mods = [
        data[p]["module"] for p in inputs if data[p].get("kind") == TENSOR and data[p].get("module")
    ]
    if not mods:
        return None
    out = mods[0]
    for m in mods[1:]:
        out = _common(out, m) or ""
    return out or None


def _ops_next(
    data: dict[str, dict[str, Any]], adj: Mapping[str, Iterable[str]], op: str
) -> list[str]:
    """The ops one step along ``adj`` from ``op`` (looking through a named tensor between)."""
    out = []
    for p in adj[op]:
        if data[p].get("kind") == OP:
            out.append(p)
        else:
            out.extend(q for q in adj[p] if data[q].get("kind") == OP)
    return out


@functools.lru_cache(maxsize=4096)  # a few distinct pairs, many ops
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
    k, m = 0, min(len(pa), len(pb))
    while k < m and pa[k] == pb[k]:
        k += 1
    return ".".join(pa[:k]) or None
