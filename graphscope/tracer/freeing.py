"""Let torch free a deep graph after a Python walk without overflowing the C stack, in any thread.

Why it would overflow (torch 2.13, autograd-notes §12): reading ``next_functions`` gives every
backward node a Python wrapper, and torch keeps that wrapper alive for as long as the node is
shared (PyObject preservation: the node holds a reference to its wrapper while anything else
holds the node). When the graph is freed, the node's last edge is released, the node drops its
wrapper, the wrapper's deallocation deletes the node, whose edges release the next node... one
nested C call chain per node (about 170 bytes of stack each): torch's own non-recursive
``deleteNode`` loop skips nodes that still have a wrapper. A 50,000-deep chain needs more than
the 8 MB a thread gets.

What :func:`protect` does: it picks *anchors*, about one node in :data:`SPACING` along every
path (by height: the longest path down to a leaf, which never changes once a node exists), and
stores in each anchor's (and each root's) ``metadata`` dict a :class:`_Hold` with strong
references to the next anchors below it. When such a node dies, torch first releases its edges
(the nested frees stop at the held anchors: at most ``SPACING`` deep), then destroys its
metadata: the hold lets go of the anchors below, one at a time, through a per-thread queue, so
that the next segment's frees start from a shallow stack instead of nesting deeper. A node only
ever holds its own descendants, which its edges keep alive anyway: nothing lives longer than it
would without graphscope, and nothing is freed in another order than "a node, then what it alone
kept alive".

Graphs shallower than ``SPACING`` (almost all) get nothing: no anchor, no metadata entry.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import torch

__all__ = ["protect", "protect_walked", "SPACING", "KEY"]

#: anchors per path: at most this many nested frees (≈ 170 bytes of C stack each) at a time
SPACING = 500
#: a subtree shallower than this is freed without an anchor (at most SPACING + _SMALL nested)
_SMALL = SPACING // 10
#: the key of our entry in a node's ``metadata`` dict
KEY = "graphscope_free_in_steps"

_local = threading.local()


class _Hold:
    """References to the anchors below a node; lets go of them when the node is destroyed."""

    __slots__ = ("fns",)

    def __init__(self, fns: list[Any]) -> None:
        self.fns = fns

    def __del__(self) -> None:
        fns, self.fns = self.fns, []
        try:
            _release(fns)
        except Exception:  # at interpreter exit the module may be half torn down
            pass


def _release(fns: list[Any]) -> None:
    """Drop ``fns`` one at a time; a hold destroyed while we drop queues its own instead of
    nesting (so the stack stays one segment deep however many segments there are)."""
    pending: list[list[Any]] | None = getattr(_local, "pending", None)
    if pending is not None:
        pending.append(fns)
        return
    pending = _local.pending = [fns]
    try:
        while pending:
            batch = pending.pop()
            while batch:
                batch.pop()  # the last reference: the anchor and its segment are freed here
    finally:
        _local.pending = None


def protect(roots: Sequence[torch.Tensor], nodes: int | None = None) -> int:
    """Make the graph behind ``roots`` safe to free however deep it is; returns the number of
    holds placed (0 for a graph shallower than :data:`SPACING`). ``nodes``: the number of
    backward nodes already known (a walk just counted them): fewer than ``SPACING`` returns at
    once. Idempotent: a node that already holds its anchors is left as it is."""
    if nodes is not None and nodes < SPACING:
        return 0
    fns = [r.grad_fn for r in roots if isinstance(r, torch.Tensor) and r.grad_fn is not None]
    if not fns:
        return 0
    order, kids = _graph(fns)
    return protect_walked(order, kids, fns)


def protect_walked(order: list[Any], kids: list[list[int]], fns: list[Any]) -> int:
    """:func:`protect` for a graph already walked: ``order``, its backward nodes (the roots'
    ``fns`` among them), ``kids``, each one's children as indexes into ``order``."""
    if len(order) < SPACING:
        return 0
    topo = _topological(kids)
    plan = _plan(kids, topo, {id(fn) for fn in fns}, order)
    placed = 0
    for i, below in plan:
        try:
            meta = order[i].metadata
            if KEY not in meta:
                meta[KEY] = _Hold([order[j] for j in below])
                placed += 1
        except Exception:  # a node type without metadata: its segment is simply longer
            continue
    return placed


def _graph(fns: list[Any]) -> tuple[list[Any], list[list[int]]]:
    """The backward nodes reachable from ``fns`` in discovery order, and each one's children
    (indexes into that order)."""
    index: dict[Any, int] = {}
    order: list[Any] = []
    stack: list[Any] = []
    for fn in fns:
        if fn not in index:
            index[fn] = len(order)
            order.append(fn)
            stack.append(fn)
    kids: list[list[int]] = [[] for _ in order]
    while stack:
        fn = stack.pop()
        mine = kids[index[fn]]
        for child, _ in fn.next_functions:
            if child is None:
                continue
            j = index.get(child)
            if j is None:
                j = index[child] = len(order)
                order.append(child)
                kids.append([])
                stack.append(child)
            mine.append(j)
    return order, kids


def _topological(kids: list[list[int]]) -> list[int]:
    """Node indexes, every parent before its children (Kahn)."""
    indegree = [0] * len(kids)
    for ks in kids:
        for j in ks:
            indegree[j] += 1
    order = [i for i, d in enumerate(indegree) if d == 0]
    k = 0
    while k < len(order):
        for j in kids[order[k]]:
            indegree[j] -= 1
            if indegree[j] == 0:
                order.append(j)
        k += 1
    return order


def _plan(
    kids: list[list[int]], topo: list[int], roots: set[int], order: list[Any]
) -> list[tuple[int, list[int]]]:
    """``(holder, [anchors below it])``: an anchor is a node with a child in a lower height
    band (height // SPACING) that is not a small subtree, so every path crosses one every
    SPACING steps (plus at most ``_SMALL`` into a small subtree); each anchor and root holds
    the anchors it reaches without passing another one."""
    height = [0] * len(kids)
    anchor = [False] * len(kids)
    below: list[frozenset[int]] = [frozenset()] * len(kids)  # non-anchors: anchors they reach
    plan: list[tuple[int, list[int]]] = []
    for i in reversed(topo):  # children first
        ks = kids[i]
        if not ks:
            continue
        hs = [height[j] for j in ks]
        h = height[i] = 1 + max(hs)
        band = h // SPACING
        # a child in a lower band starts a long path down; a small subtree (a parameter's
        # AccumulateGrad, a transpose of it) needs no anchor: it nests at most _SMALL frees
        for hj in hs:
            if hj >= _SMALL and hj // SPACING < band:
                anchor[i] = True
                break
        reach = _reach(ks, anchor, below)
        if anchor[i] or id(order[i]) in roots:
            if reach:
                plan.append((i, sorted(reach)))
        if not anchor[i]:
            below[i] = reach
    return plan


def _reach(ks: list[int], anchor: list[bool], below: list[frozenset[int]]) -> frozenset[int]:
    """The anchors reached from children ``ks`` without passing another anchor (one child's
    set is shared, not copied: a chain costs one set per segment)."""
    if len(ks) == 1:
        j = ks[0]
        return frozenset((j,)) if anchor[j] else below[j]
    out: set[int] = set()
    for j in ks:
        if anchor[j]:
            out.add(j)
        else:
            out |= below[j]
    return frozenset(out)
