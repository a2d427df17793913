"""The distinct graphs of a ``watch`` session: each captured once, repeats recognised cheaply.

A training loop builds the same graph at every step. :func:`fingerprint` walks a graph's
backward nodes in one pass (their types and the order they link in; leaves by identity, as
parameters persist across steps) and :class:`GraphStore` answers a repeat from it without a
trace. A new fingerprint is traced; a trace whose structure equals a kept graph (the same graph
reached another way) joins that graph. Structure here (:func:`distinct_key`) leaves out shapes
(a last, smaller batch builds the same graph) and the parameters the backward did not reach (a
GAN's first discriminator step, before the generator ever ran, is the same graph as the next
ones); the kept graph gains the unreached parameters it did not have. The store owns the graphs: after a capture, only it
changes their data (the leaves' gradients, the freed marks, stale saved tensors).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from graphscope.model import OP, AutogradGraph, GradSummary, RunList
from graphscope.tracer import Capture

__all__ = ["GraphStore", "fingerprint", "leaf_nodes", "distinct_key"]

_ACCUMULATE = getattr(torch._C._functions, "AccumulateGrad")  # noqa: B009 (not in the stubs)
_HISTORY = 50  # gradient values kept per leaf in the picture


@dataclass
class _Known:
    """A distinct graph seen before: its fingerprint and its leaves' node ids by id(tensor)."""

    gid: str
    fingerprint: tuple[Any, ...]
    leaf_nodes: dict[int, str]


class GraphStore:
    """The captures of one session, by id (``g1``, ``g2``, ...), and what makes them distinct."""

    def __init__(self, max_graphs: int | None) -> None:
        self.captures: list[AutogradGraph] = []
        self.max_graphs = max_graphs
        self.repeats: dict[str, int] = {}  # graph id -> fast-path hits
        self.stale_writes: set[int] = set()  # indexes of writes that made a captured tensor stale
        self._known: list[_Known] = []
        self._by_gid: dict[str, AutogradGraph] = {}
        self._keys: dict[str, tuple[Any, ...]] = {}  # structure keys, computed when needed
        self._nodes: dict[tuple[str, str], dict[str, Any]] = {}

    @property
    def full(self) -> bool:
        return self.max_graphs is not None and len(self.captures) >= self.max_graphs

    def graph(self, gid: str) -> AutogradGraph:
        return self._by_gid[gid]

    def node(self, gid: str | None, nid: str | None) -> dict[str, Any] | None:
        """The data of node ``nid`` of graph ``gid`` (None when either is unknown)."""
        if gid is None or nid is None:
            return None
        key = (gid, nid)
        d = self._nodes.get(key)
        if d is None:
            graph = self._by_gid[gid]
            if nid not in graph:
                return None
            d = self._nodes[key] = graph.nodes[nid]
        return d

    def known_gid(self, fp: tuple[Any, ...]) -> str | None:
        """The id of the kept graph with this fingerprint, if any (nothing is recorded)."""
        for k in self._known:
            if k.fingerprint == fp:
                return k.gid
        return None

    def repeat(
        self, fp: tuple[Any, ...], leaves: Sequence[torch.Tensor], index: int
    ) -> tuple[str, list[tuple[str, torch.Tensor]]] | None:
        """``(graph id, leaf nodes)`` when a kept graph has this fingerprint (call ``index``
        joins it), else None."""
        for k in self._known:
            if k.fingerprint == fp:
                self._by_gid[k.gid].graph["calls"].append(index)
                self.repeats[k.gid] = self.repeats.get(k.gid, 0) + 1
                ln = k.leaf_nodes
                return k.gid, [(ln[id(v)], v) for v in leaves if id(v) in ln]
        return None

    def add(
        self, cap: Capture, fp: tuple[Any, ...], index: int
    ) -> tuple[str, list[tuple[str, torch.Tensor]], bool]:
        """Keep the graph of a new capture: ``(graph id, leaf nodes, new)``; ``new`` is False
        when it has the structure of a kept graph (which then stands for call ``index``)."""
        g = cap.graph
        leaves = leaf_nodes(cap)
        key = None  # computed only when there is another capture to compare with
        for existing in self.captures:
            if key is None:
                key = distinct_key(g)
            if self._key(existing) == key:
                existing.graph["calls"].append(index)
                _merge_stale(existing, g)
                _merge_unreached(existing, g)
                self.stale_writes.update(_stale_writes(g))
                return str(existing.graph["id"]), leaves, False
        self.stale_writes.update(_stale_writes(g))
        gid = f"g{len(self.captures) + 1}"
        g.graph.update(id=gid, call=index, calls=RunList([index]))
        self.captures.append(g)
        self._by_gid[gid] = g
        if key is not None:
            self._keys[gid] = key
        self._known.append(_Known(gid, fp, {id(t): n for n, t in leaves}))
        return gid, leaves, True

    def set_grad(
        self,
        d: dict[str, Any],
        summary: GradSummary | None,
        call: int,
        history: GradSummary | bool = False,
    ) -> None:
        """Show ``summary`` as a node's gradient after ``call``; ``history``: a summary to
        append to its accumulation history, or True to start the history with ``summary``."""
        if history is True:
            d["grad_history"] = [summary]
        elif history:
            d["grad_history"] = (list(d.get("grad_history") or []) + [history])[-_HISTORY:]
        d["grad"], d["grad_call"] = summary, call

    def set_modules(self, gid: str, facts: dict[str, Any]) -> None:
        """Record the class and parameter count of the modules the graph's ops came from."""
        g = self._by_gid[gid]
        used = {d.get("module") for _, d in g.nodes(data=True) if d.get("module")}
        prefixes = {p.rsplit(".", k)[0] for p in used if p for k in range(p.count(".") + 1)}
        modules = {path: dict(info) for path, info in facts.items() if path in prefixes}
        if modules:
            g.graph["modules"] = modules

    def mark_freed(self, gid: str) -> None:
        """What a failed call found: the graph's saved tensors were already freed. When the
        capture already saw which nodes were freed (a previous batch's part of the graph,
        reached through a carried state), those stay the only ones marked."""
        nodes = self._by_gid[gid].nodes(data=True)
        if any(d.get("kind") == OP and d.get("freed") for _, d in nodes):
            return
        for _, d in nodes:
            if d.get("kind") == OP and d.get("saved"):
                d["freed"] = True
                d["saved"] = [dict(e, status="freed") for e in d["saved"]]

    def mark_reached(self, gid: str, nids: list[str]) -> None:
        """Tensors the walk did not reach but that got a gradient during the call (from a
        backward run inside it: a reentrant checkpoint)."""
        g = self._by_gid[gid]
        for nid in nids:
            if nid in g:
                g.nodes[nid]["reached"] = True

    def _key(self, g: AutogradGraph) -> tuple[Any, ...]:
        gid = g.graph["id"]
        key = self._keys.get(gid)
        if key is None:
            key = self._keys[gid] = distinct_key(g)
        return key


def leaf_nodes(cap: Capture) -> list[tuple[str, torch.Tensor]]:
    """``(node id, tensor)`` of the reached leaves that require grad (those whose .grad the
    backward call writes)."""
    g = cap.graph
    out = []
    for nid, t in cap.tensors.items():
        d = g.nodes[nid]
        if d.get("is_leaf") and d.get("requires_grad") and d.get("reached", True):
            out.append((nid, t))
    return out


def fingerprint(
    roots: Sequence[torch.Tensor],
) -> tuple[tuple[Any, ...], list[torch.Tensor], int]:
    """A structural key of the graph, its leaves and its number of backward nodes, in one pass:
    for each node in depth-first order its type and the discovery numbers of its inputs; leaves
    by identity (parameters persist across iterations), matched to a capture's nodes by identity.
    """
    ids: dict[Any, int] = {}
    parts: list[Any] = []
    leaves: list[torch.Tensor] = [r for r in roots if r.grad_fn is None and r.requires_grad]
    stack = []
    for r in reversed(roots):
        fn = r.grad_fn
        if fn is not None and fn not in ids:
            ids[fn] = len(ids)
            stack.append(fn)
    while stack:
        fn = stack.pop()
        cls = type(fn)
        if cls is _ACCUMULATE:
            var = fn.variable  # type: ignore[attr-defined]
            parts.append(id(var))
            leaves.append(var)
            continue
        nexts = fn.next_functions
        parts.append(cls)
        parts.append(len(nexts))
        push = []
        for child, _ in nexts:
            if child is None:
                parts.append(-1)
                continue
            k = ids.get(child)
            if k is None:
                k = ids[child] = len(ids)
                push.append(child)
            parts.append(k)
        if push:
            stack.extend(reversed(push))
    return tuple(parts), leaves, len(ids)


def distinct_key(g: AutogradGraph) -> tuple[Any, ...]:
    """What makes two captures one distinct graph: the reached nodes (kind, name, role, line,
    module) and the edges; not values, not shapes, not the parameters left unreached."""
    nodes = tuple(
        (
            n,
            d.get("kind"),
            d.get("name"),
            d.get("role"),
            d.get("file"),
            d.get("line"),
            d.get("module"),
        )
        for n, d in g.nodes(data=True)
        if d.get("reached", True)
    )
    edges = tuple(
        (u, v, tuple(d.get("slots") or (d.get("slot"),))) for u, v, d in g.edges(data=True)
    )
    return (nodes, edges)


def _merge_unreached(existing: AutogradGraph, new: AutogradGraph) -> None:
    """Add to a kept graph the unreached parameters a re-capture has and it lacks."""
    have = {d.get("name") for _, d in existing.nodes(data=True) if d.get("reached") is False}
    extra = [
        d
        for _, d in new.nodes(data=True)
        if d.get("reached") is False and d.get("name") not in have
    ]
    if not extra:
        return
    used = {n for n in existing if n[:1] == "n" and n[1:].isdigit()}
    k = max((int(n[1:]) for n in used), default=-1) + 1
    for d in extra:
        existing.add_node(f"n{k}", **dict(d))
        k += 1


def _stale_writes(g: AutogradGraph) -> set[int]:
    return {
        i
        for _, d in g.nodes(data=True)
        for e in d.get("saved") or ()
        for i in e.get("writes") or ()
    }


def _merge_stale(existing: AutogradGraph, new: AutogradGraph) -> None:
    """Carry stale saved-tensor entries of a re-capture onto the graph that stands for it."""
    for n, d in new.nodes(data=True):
        saved = d.get("saved") or ()
        if any(e.get("status") == "stale" for e in saved) and n in existing:
            existing.nodes[n]["saved"] = [dict(e) for e in saved]
