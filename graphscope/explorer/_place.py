"""The hierarchy for the page: its levels, their group nodes, and where each node is found.

Every original node gets a *place*: the level the page opens to show it and the item drawn for
it there. That is the deepest level drawing the node as itself (a boundary node, drawn as
context in a neighbour's drill-down, counts only when no level draws it otherwise); for copies
of a fold other than the one its level draws, the place of its counterpart in that copy
(:mod:`graphscope.explorer._copies`; folds inside folds chain: ``layers.3``'s step 5 faces
``layers.0``'s step 5, which faces the step drawn); else the deepest group holding it (a group
of a drill-down's neighbours last); else none (level -1: still searched and inspected). Items
are written as refs: ``i >= 0`` is original node ``i``, ``-1 - g`` is group ``g``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphscope.errors import RenderError
from graphscope.explorer._copies import fold_twins
from graphscope.explorer._data import Tables, grad_norm, node_bytes, pack
from graphscope.explorer._level import Level
from graphscope.memory import node_bytes_of
from graphscope.model import GROUP, AutogradGraph

MAX_GROUP_PARAMS = 20  # parameters listed per group (the rest are counted, and searchable)


@dataclass
class Places:
    """Where each original node is shown: level, item ref, and which copy of a fold it is."""

    level: list[int]
    ref: list[int]
    # node -> (copy number, fold's group index, counterpart in the copy the fold's level draws)
    copy: dict[int, tuple[int, int, int]] = field(default_factory=dict)


@dataclass
class _Group:
    level: int
    nid: str
    data: Mapping[str, Any]
    members: list[int]
    shown_copy: int = 0  # a fold: the number of the copy its level draws (0: unknown)


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
    held = node_bytes_of(graph)
    out_groups = [_group(g, levels, pos, graph, ids, tables, held) for g in groups]
    return out_levels, out_groups, places


def place_columns(places: Places) -> dict[str, Any]:
    """The places as packed columns: ``level`` (-1: nowhere), ``rd`` (drawn node - this node,
    0 for itself), ``pg`` (the group drawn for it); for a copy of a fold that its level does
    not draw, ``ck`` (its copy number, else 0), ``cg`` (the fold's group) and, when the
    counterpart it faces is itself a copy of a fold inside, ``tw`` (counterpart - this node)."""
    n = len(places.level)
    rd: list[int | None] = [None] * n
    pg: list[int | None] = [None] * n
    for i, (lv, ref) in enumerate(zip(places.level, places.ref, strict=True)):
        if lv >= 0 and ref >= 0:
            rd[i] = ref - i
        elif lv >= 0:
            pg[i] = -1 - ref
    ck = [0] * n
    cg: list[int | None] = [None] * n
    tw: list[int | None] = [None] * n
    for i, (k, g, twin) in places.copy.items():
        ck[i], cg[i] = k, g
        if twin in places.copy:
            tw[i] = twin - i
    return {
        "level": pack(places.level),
        "rd": pack(rd),
        "pg": pack(pg),
        "ck": pack(ck),
        "cg": pack(cg),
        "tw": pack(tw),
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
        _place_copies(graph, gi, groups[gi], places, index, ids)
    for i in context_only:
        if places.level[i] < 0:
            places.level[i] = _context_level(levels, ids[i])
    for gi in sorted(deepest_first, key=lambda g: bool(groups[g].data.get("boundary"))):
        for m in groups[gi].members:
            if places.level[m] < 0:
                places.level[m], places.ref[m] = groups[gi].level, -1 - gi
    return places  # level -1: drawn nowhere (still searchable and inspectable)


def _context_level(levels: Sequence[Level], nid: str) -> int:
    """The deepest level drawing ``nid`` as a neighbour's context (first found)."""
    found = [li for li, lv in enumerate(levels) if lv.graph.has_node(nid)]
    return found[-1]


def _place_copies(
    graph: AutogradGraph,
    gi: int,
    g: _Group,
    places: Places,
    index: Mapping[str, int],
    ids: Sequence[str],
) -> None:
    """The copies of fold ``g`` not drawn take the place of their counterpart in the copy
    drawn (found earlier when it is itself a copy of a fold inside)."""
    repeat = int(g.data.get("repeat") or 1)
    unit = {index[m] for m in g.data.get("unit") or () if m in index}
    if repeat < 2 or not unit:
        return
    twins, g.shown_copy = fold_twins(graph, index, ids, g.members, unit, repeat)
    for m, (twin, k) in twins.items():
        if places.level[m] < 0 and places.level[twin] >= 0:
            places.level[m], places.ref[m] = places.level[twin], places.ref[twin]
            places.copy[m] = (k, gi, twin)


def _group(
    g: _Group,
    levels: Sequence[Level],
    pos: Mapping[str, int],
    graph: AutogradGraph,
    ids: Sequence[str],
    tables: Tables,
    held: Mapping[str, int] | None,
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
        "uk": g.shown_copy,
        "gn": float(f"{max(norms):.4g}") if norms else None,
        "mb": sum(node_bytes(graph.nodes[ids[m]], ids[m], held) for m in g.members),
    }
