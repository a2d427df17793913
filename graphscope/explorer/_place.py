"""The hierarchy for the page: its levels, their group nodes, and where each node is found.

Every original node gets a *place*: the level the page opens to show it and the item drawn for
it there. That is the deepest level drawing the node as itself (a boundary node, drawn as
context in a neighbour's drill-down, counts only when no level draws it otherwise); for copies
2..N of a fold, which have no level of their own, the place of its counterpart in the first
copy (the same module path below the folded siblings, same kind, name up to indexes, op and
shape, same rank; without module paths, the same rank in walk order); else the deepest group
holding it; else none (level -1: still searched and inspected). Items are written as refs: ``i >= 0`` is original node ``i``, ``-1 - g`` is group
``g``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphscope.errors import RenderError
from graphscope.explorer._data import Tables, grad_norm, pack, saved_bytes
from graphscope.explorer._level import Level
from graphscope.model import GROUP, AutogradGraph

MAX_GROUP_PARAMS = 20  # parameters listed per group (the rest are counted, and searchable)
_DIGITS = re.compile(r"\d+")


@dataclass
class Places:
    """Where each original node is shown: level, item ref, and copy number of a fold."""

    level: list[int]
    ref: list[int]
    copy: dict[int, tuple[int, int]] = field(default_factory=dict)  # node -> (k, of N)


@dataclass
class _Group:
    level: int
    nid: str
    data: Mapping[str, Any]
    members: list[int]


def hierarchy(
    graph: AutogradGraph, levels: Sequence[Level], index: Mapping[str, int], tables: Tables
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Places]:
    """``(levels, groups, places)`` of the page's data for ``levels`` of ``graph``."""
    if not levels:
        raise RenderError("the explorer needs at least one level (the overview)")
    pos = {lv.id: i for i, lv in enumerate(levels)}
    depth = _depths(levels, pos)
    groups: list[_Group] = []
    where: dict[tuple[int, str], int] = {}  # (level, group node id) -> group index
    for li, lv in enumerate(levels):
        for nid, d in lv.graph.nodes(data=True):
            if d.get("kind") == GROUP:
                where[(li, nid)] = len(groups)
                members = sorted(index[m] for m in d.get("members") or () if m in index)
                groups.append(_Group(li, nid, d, members))
    ids = list(index)
    out_levels = [_level(li, lv, pos, index, ids, where) for li, lv in enumerate(levels)]
    places = _places(graph, levels, depth, index, ids, groups)
    out_groups = [_group(g, levels, pos, graph, ids, tables) for g in groups]
    return out_levels, out_groups, places


def place_columns(places: Places) -> dict[str, Any]:
    """The places as packed columns: ``level`` (-1: nowhere), ``rd`` (drawn node - this node,
    0 for itself), ``pg`` (the group drawn for it), ``ck``/``cn`` (copy k of n of a fold)."""
    n = len(places.level)
    rd: list[int | None] = [None] * n
    pg: list[int | None] = [None] * n
    for i, (lv, ref) in enumerate(zip(places.level, places.ref, strict=True)):
        if lv >= 0 and ref >= 0:
            rd[i] = ref - i
        elif lv >= 0:
            pg[i] = -1 - ref
    ck, cn = [0] * n, [0] * n
    for i, (k, of) in places.copy.items():
        ck[i], cn[i] = k, of
    return {
        "level": pack(places.level),
        "rd": pack(rd),
        "pg": pack(pg),
        "ck": pack(ck),
        "cn": pack(cn),
    }


def _depths(levels: Sequence[Level], pos: Mapping[str, int]) -> list[int]:
    depth = [0] * len(levels)
    for i, lv in enumerate(levels):
        seen = {i}
        p = lv.parent
        while p is not None:
            j = pos.get(p)
            if j is None or j in seen:
                raise RenderError(
                    f"level {lv.id!r} has parent {p!r}, which is not a level above it"
                )
            seen.add(j)
            depth[i] += 1
            p = levels[j].parent
    return depth


def _level(
    li: int,
    lv: Level,
    pos: Mapping[str, int],
    index: Mapping[str, int],
    ids: Sequence[str],
    where: Mapping[tuple[int, str], int],
) -> dict[str, Any]:
    refs: list[int] = []
    titles: list[Any] = []
    boundary: list[int] = []
    for title, nid in lv.dot_ids.items():
        if (li, nid) in where:
            ref = -1 - where[(li, nid)]
        elif nid in index:
            ref = index[nid]
        else:
            continue  # drawn, but neither a group nor a node of the graph: not clickable
        if lv.graph.has_node(nid) and lv.graph.nodes[nid].get("boundary"):
            boundary.append(len(refs))
        titles.append(0 if ref >= 0 and ids[ref] == title else title)
        refs.append(ref)
    return {
        "id": lv.id,
        "title": lv.title,
        "parent": pos[lv.parent] if lv.parent is not None else -1,
        "r": refs,
        "t": titles,
        "b": boundary,
    }


def _places(
    graph: AutogradGraph,
    levels: Sequence[Level],
    depth: Sequence[int],
    index: Mapping[str, int],
    ids: Sequence[str],
    groups: Sequence[_Group],
) -> Places:
    n = len(index)
    places = Places([-1] * n, [0] * n)
    best = [-1] * n  # depth of the place so far; boundary places rank below any other
    for li, lv in enumerate(levels):
        for nid, d in lv.graph.nodes(data=True):
            i = index.get(nid)
            if i is None or d.get("kind") == GROUP:
                continue
            rank = -1 if d.get("boundary") else depth[li]
            if best[i] < rank or places.level[i] < 0:
                best[i], places.level[i], places.ref[i] = rank, li, i
    deepest_first = sorted(range(len(groups)), key=lambda g: -depth[groups[g].level])
    context_only = {i for i in range(n) if best[i] < 0 <= places.level[i]}
    for i in context_only:  # a copy drawn only as a neighbour's context: its twin wins
        places.level[i] = -1
    for gi in deepest_first:
        _place_copies(graph, groups[gi], places, ids)
    for i in context_only:
        if places.level[i] < 0:
            places.level[i] = _context_level(levels, index, ids[i])
    for gi in deepest_first:
        for m in groups[gi].members:
            if places.level[m] < 0:
                places.level[m], places.ref[m] = groups[gi].level, -1 - gi
    return places  # level -1: drawn nowhere (still searchable and inspectable)


def _context_level(levels: Sequence[Level], index: Mapping[str, int], nid: str) -> int:
    """The deepest level drawing ``nid`` as a neighbour's context (first found)."""
    found = [li for li, lv in enumerate(levels) if lv.graph.has_node(nid)]
    return found[-1]


def _place_copies(graph: AutogradGraph, g: _Group, places: Places, ids: Sequence[str]) -> None:
    """Copies 2..N of a fold take the place of their counterpart in the first copy."""
    repeat = int(g.data.get("repeat") or 1)
    unit = {i for i in g.members if ids[i] in set(g.data.get("unit") or ())}
    if repeat < 2 or not unit:
        return
    twins = _twins_by_module(graph, g, unit, ids)
    rest = [m for m in g.members if m not in twins and m not in unit]
    twins.update(_twins_by_rank(graph, rest, sorted(unit), ids))
    for m, (twin, k) in twins.items():
        if places.level[m] < 0 and places.level[twin] >= 0:
            places.level[m], places.ref[m] = places.level[twin], places.ref[twin]
            places.copy[m] = (k, repeat)


def _twins_by_module(
    graph: AutogradGraph, g: _Group, unit: set[int], ids: Sequence[str]
) -> dict[int, tuple[int, int]]:
    """``{member: (counterpart, copy number)}`` read from module paths: the fold of
    ``layers.0``-``layers.5`` puts ``layers.3.linear1``'s n-th AddmmBackward0 opposite
    ``layers.0.linear1``'s n-th (copies of a sequence of siblings: ``period`` names each)."""
    parent = str(g.data.get("module") or "").rpartition(".")[0]
    slots: dict[tuple[Any, ...], list[int]] = {}
    for m in g.members:
        where = _under(graph.nodes[ids[m]], parent)
        if where is not None:
            slots.setdefault(where, []).append(m)
    unit_segs = sorted({w[0] for w, ms in slots.items() if unit & set(ms)}, key=_natural)
    segs = sorted({w[0] for w in slots}, key=_natural)
    if not unit_segs or segs[: len(unit_segs)] != unit_segs:
        return {}
    period, pos = len(unit_segs), {seg: k for k, seg in enumerate(segs)}
    out: dict[int, tuple[int, int]] = {}
    for (seg, rest, key), members in slots.items():
        copy, slot = divmod(pos[seg], period)
        firsts = slots.get((unit_segs[slot], rest, key))
        if copy == 0 or not firsts:
            continue
        for r, m in enumerate(members):
            out[m] = (firsts[r % len(firsts)], copy + 1)
    return out


def _under(d: Mapping[str, Any], parent: str) -> tuple[Any, ...] | None:
    """``(sibling name, path below it, what the node is)`` for a node of module ``parent``."""
    module = d.get("module")
    prefix = parent + "." if parent else ""
    if not module or not str(module).startswith(prefix):
        return None
    seg, _, rest = str(module)[len(prefix) :].partition(".")
    name = str(d.get("name") or d.get("label") or "")
    return seg, rest, (d.get("kind"), _DIGITS.sub("#", name), d.get("op"), str(d.get("shape")))


def _twins_by_rank(
    graph: AutogradGraph, members: Sequence[int], unit: Sequence[int], ids: Sequence[str]
) -> dict[int, tuple[int, int]]:
    """``{member: (counterpart, copy number)}`` for nodes no module path tells apart (a loop
    unrolled by Python): the r-th node of a kind in walk order faces the (r mod k)-th of the
    first copy's k such nodes."""
    by_key: dict[tuple[Any, ...], list[int]] = {}
    for m in sorted({*members, *unit}):
        by_key.setdefault(_key(graph.nodes[ids[m]]), []).append(m)
    unit_set = set(unit)
    out: dict[int, tuple[int, int]] = {}
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


def _natural(name: str) -> tuple[Any, ...]:
    """``2`` before ``10``."""
    return tuple(
        (0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", name) if t
    )


def _key(d: Mapping[str, Any]) -> tuple[Any, ...]:
    name = str(d.get("name") or d.get("label") or "")
    return (
        d.get("kind"),
        _DIGITS.sub("#", name),
        d.get("op"),
        _DIGITS.sub("#", str(d.get("module") or "")),
        tuple(d.get("shape") or ()),
    )


def _group(
    g: _Group,
    levels: Sequence[Level],
    pos: Mapping[str, int],
    graph: AutogradGraph,
    ids: Sequence[str],
    tables: Tables,
) -> dict[str, Any]:
    d = g.data
    params = list(d.get("params") or ())
    child = levels[g.level].children.get(g.nid)
    norms = [n for m in g.members if (n := grad_norm(graph.nodes[ids[m]].get("grad"))) is not None]
    return {
        "lv": g.level,
        "id": g.nid,
        "nm": tables.s(d.get("name")),
        "lb": tables.s(d.get("label")),
        "md": tables.s(d.get("module")),
        "rp": int(d.get("repeat") or 1),
        "ops": int(d.get("ops") or 0),
        "pa": [[str(p[0]), tables.v(list(p[1]))] for p in params[:MAX_GROUP_PARAMS]],
        "np": len(params),
        "fk": list(d.get("finding_kinds") or ()),
        "ch": pos.get(child, -1) if child is not None else -1,
        "n": len(g.members),
        "un": len(d.get("unit") or ()),
        "gn": float(f"{max(norms):.4g}") if norms else None,
        "mb": sum(saved_bytes(graph.nodes[ids[m]].get("saved")) for m in g.members),
    }
