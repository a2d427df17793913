"""The copies of a fold: each node's counterpart in the copy the fold's level draws.

A fold stands for ``repeat`` identical copies (``layers.0–5 ×6``, or the steps of a loop) and
its level draws one of them, its ``unit`` (the first of identical siblings, the second step of
a loop: :mod:`graphscope.overview.folding`). The folded ops of the copies follow each other in
forward order (each op's ``order``), all of one length, so the r-th op of copy c faces the r-th
op of the drawn copy. A tensor of a copy faces the tensor of the same name (indexes aside)
beside its op's counterpart: the tensor its producer made (else that producer itself: ``h``
named after a loop is a tensor of the last step only), or the one its first reader read (a
parameter shared by every step is no copy: it faces nothing). A graph without ``order``
(built by hand) falls back on walk order: the r-th node of a kind faces the (r mod k)-th of
the drawn copy's k such nodes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from graphscope.model import OP, AutogradGraph

__all__ = ["fold_twins"]

Twins = dict[int, tuple[int, int]]  # member -> (counterpart in the drawn copy, copy number)
_DIGITS = re.compile(r"\d+")


def fold_twins(
    graph: AutogradGraph,
    index: Mapping[str, int],
    ids: Sequence[str],
    members: Sequence[int],
    unit: set[int],
    repeat: int,
) -> tuple[Twins, int]:
    """``({member: (counterpart, copy number)}, number of the drawn copy)`` for a fold of
    ``repeat`` copies whose ``members`` (indexes into ``ids``, ``index`` its inverse) hold
    ``unit``, the copy drawn; copies are numbered from 1 in forward order (0: unknown)."""
    got = _by_order(graph, index, ids, members, unit, repeat)
    if got is not None:
        return got
    rest = [m for m in members if m not in unit]
    return _by_rank(graph, rest, sorted(unit), ids), 0


def _by_order(
    graph: AutogradGraph,
    index: Mapping[str, int],
    ids: Sequence[str],
    members: Sequence[int],
    unit: set[int],
    repeat: int,
) -> tuple[Twins, int] | None:
    """The copies cut from the ops in forward order (None: the ops say nothing certain)."""
    nodes = graph.nodes
    ops = [m for m in members if nodes[ids[m]].get("kind") == OP]
    orders = [nodes[ids[m]].get("order") for m in ops]
    if not ops or len(ops) % repeat or not all(type(o) is int for o in orders):
        return None
    ops.sort(key=lambda m: nodes[ids[m]]["order"])
    size = len(ops) // repeat
    copies = [ops[c * size : (c + 1) * size] for c in range(repeat)]
    drawn = [c for c, ops_c in enumerate(copies) if unit.issuperset(ops_c)]
    if len(drawn) != 1:
        return None
    shown = copies[drawn[0]]
    out: Twins = {}
    for c, ops_c in enumerate(copies):
        if c == drawn[0]:
            continue
        for m, twin in zip(ops_c, shown, strict=True):
            if nodes[ids[m]].get("name") != nodes[ids[twin]].get("name"):
                return None  # not copies of one another after all
            out[m] = (twin, c + 1)
    _tensor_twins(
        graph, index, ids, [m for m in members if m not in unit and m not in out], unit, out
    )
    return out, drawn[0] + 1


def _tensor_twins(
    graph: AutogradGraph,
    index: Mapping[str, int],
    ids: Sequence[str],
    tensors: Sequence[int],
    unit: set[int],
    out: Twins,
) -> None:
    """Add the tensors' counterparts: beside the counterpart of their producer or reader."""
    for m in tensors:
        nid = ids[m]
        made_by = [index[p] for p in graph.pred[nid] if index[p] in out]
        if made_by:
            anchor, near = made_by[0], graph.succ
        else:
            read_by = [index[s] for s in graph.succ[nid]]
            if any(r in unit for r in read_by) or not any(r in out for r in read_by):
                continue  # shared with the drawn copy (a loop's weight), or no op to go by
            anchor, near = next(r for r in read_by if r in out), graph.pred
        key = _tensor_key(graph.nodes[nid])
        alike = [index[x] for x in near[ids[anchor]] if _tensor_key(graph.nodes[x]) == key]
        twin_op, copy = out[anchor]
        facing = [
            index[x]
            for x in near[ids[twin_op]]
            if index[x] in unit and _tensor_key(graph.nodes[x]) == key
        ]
        rank = alike.index(m)
        if rank < len(facing):
            out[m] = (facing[rank], copy)
        elif near is graph.succ:  # named in the last step only (h after the loop): its op's
            out[m] = (twin_op, copy)


def _tensor_key(d: Mapping[str, Any]) -> tuple[Any, ...]:
    name = str(d.get("name") or d.get("label") or "")
    return d.get("kind"), d.get("role"), _DIGITS.sub("#", name)


def _by_rank(
    graph: AutogradGraph, members: Sequence[int], unit: Sequence[int], ids: Sequence[str]
) -> Twins:
    """Counterparts by walk order: the r-th node of a kind faces the (r mod k)-th of the drawn
    copy's k such nodes (copies numbered from the loss side when the drawn copy is last)."""
    by_key: dict[tuple[Any, ...], list[int]] = {}
    for m in sorted({*members, *unit}):
        by_key.setdefault(_key(graph.nodes[ids[m]]), []).append(m)
    unit_set = set(unit)
    out: Twins = {}
    for nodes in by_key.values():
        firsts = [m for m in nodes if m in unit_set]
        if not firsts:
            continue
        size = len(firsts)
        blocks = (len(nodes) + size - 1) // size
        unit_block = nodes.index(firsts[0]) // size
        for rank, m in enumerate(nodes):
            if m in unit_set:
                continue
            block = rank // size  # the walk meets copies from the last (the loss side) on
            k = blocks - block if unit_block == blocks - 1 else block + 1
            out[m] = (firsts[rank % size], k)
    return out


def _key(d: Mapping[str, Any]) -> tuple[Any, ...]:
    name = str(d.get("name") or d.get("label") or "")
    return (
        d.get("kind"),
        _DIGITS.sub("#", name),
        d.get("op"),
        _DIGITS.sub("#", str(d.get("module") or "")),
        tuple(d.get("shape") or ()),
    )
