"""The collapsed graph itself: one node per item, edges between items, findings re-pointed.

Edges between two original nodes keep their data; edges into or out of a group are one edge
per pair of items (shape and dtype kept when all the edges agree). A fold whose copies hand
data to each other (a loop's state, a layer's output into the next layer) gets a self-loop
marked ``recurrent``, with the loop's variable names in ``state`` when they are known.
"""

from __future__ import annotations

import copy
import math
from dataclasses import replace
from typing import Any

from graphscope.model import GROUP, OP, ROLE_PARAM, TENSOR, AutogradGraph
from graphscope.overview.groups import FOLD, OUTSIDE, Group, Item
from graphscope.overview.index import Index

__all__ = ["build", "copy_graph"]


def build(ix: Index, items: list[Item]) -> AutogradGraph:
    items = sorted(items, key=lambda it: it.first)
    g = AutogradGraph()
    g.graph.update(copy.deepcopy(ix.graph.graph))
    rep = [-1] * len(ix.ids)
    ids: list[str] = []
    numbers = {"loop": 0, "part": 0}
    for k, it in enumerate(items):
        for i in it.members:
            rep[i] = k
        if it.group is None:
            nid = ix.ids[it.members[0]]
            g.add_node(nid, **copy.deepcopy(ix.data[it.members[0]]))
        else:
            nid = _unique(g, it.group.gid or _number(it.group, numbers))
            g.add_node(nid, **_group_attrs(ix, it))
        ids.append(nid)
    _edges(ix, g, items, rep, ids)
    findings = []
    for f in ix.graph.findings:
        if f.node in ix.pos:
            nid = ids[rep[ix.pos[f.node]]]
            if nid != f.node:
                f = replace(f, node=nid)
        if f.nodes:  # every node it names, as drawn (a group stands for those inside it)
            drawn = (ids[rep[ix.pos[n]]] if n in ix.pos else n for n in f.nodes)
            f = replace(f, nodes=tuple(dict.fromkeys(drawn)))
        findings.append(f)
    if findings:
        g.graph["findings"] = tuple(findings)
    return g


def _unique(g: AutogradGraph, nid: str) -> str:
    """``nid``, or ``nid#2``, ``#3``... when a group of that id is drawn already (the same
    list of blocks run twice in one forward: two folds ``g:blocks.0-3``)."""
    if nid not in g:
        return nid
    k = 2
    while f"{nid}#{k}" in g:
        k += 1
    return f"{nid}#{k}"


def _number(group: Group, numbers: dict[str, int]) -> str:
    kind = "loop" if group.kind == FOLD else "part"
    nid = f"{kind}{numbers[kind]}"
    numbers[kind] += 1
    return nid


def _edges(ix: Index, g: AutogradGraph, items: list[Item], rep: list[int], ids: list[str]) -> None:
    agg: dict[tuple[int, int], dict[str, Any]] = {}
    plain: dict[tuple[int, int], dict[str, Any]] = {}
    order: list[tuple[int, int]] = []
    for i, succ in enumerate(ix.succ):
        a = rep[i]
        for j in succ:
            b = rep[j]
            if a == b:
                continue
            d = ix.graph.edges[ix.ids[i], ix.ids[j]]
            key = (a, b)
            if items[a].group is None and items[b].group is None:
                plain[key] = d
                order.append(key)
                continue
            e = agg.get(key)
            if e is None:
                e = agg[key] = _edge_data(d)
                order.append(key)
            else:
                if e["shape"] != d.get("shape"):
                    e["shape"] = None
                if e["dtype"] != d.get("dtype"):
                    e["dtype"] = None
            if "state" in d:  # a loop's state crosses into or out of a group: keep its names
                names = e.setdefault("state", [])
                names.extend(n for n in d["state"] if n not in names)
    for key in order:
        a, b = key
        if key in plain:
            g.add_edge(ids[a], ids[b], **copy.deepcopy(plain[key]))
        else:
            g.add_edge(ids[a], ids[b], **agg[key])
    for k, it in enumerate(items):
        if it.group is not None and it.group.kind == FOLD:
            loop = _recurrence(ix, it.group)
            if loop is not None:
                g.add_edge(ids[k], ids[k], **loop)


def _edge_data(d: dict[str, Any]) -> dict[str, Any]:
    return {
        "slot": None,
        "slots": [],
        "output_nr": None,
        "shape": d.get("shape"),
        "dtype": d.get("dtype"),
    }


def _recurrence(ix: Index, group: Group) -> dict[str, Any] | None:
    """The self-loop of a fold: the data one copy hands to the next, if any."""
    copies = group.copies or []
    if len(copies) < 2:
        return None
    nxt = set(copies[1])
    data: dict[str, Any] | None = None
    for i in copies[0]:
        for j in ix.succ[i]:
            targets = [j] if ix.is_op[j] else ([k for k in ix.succ[j]] if ix.owner[j] == i else [])
            if any(t in nxt for t in targets):
                d = ix.graph.edges[ix.ids[i], ix.ids[j]]
                if data is None:
                    data = _edge_data(d)
                elif data["shape"] != d.get("shape"):
                    data["shape"] = None
    if data is None:
        return None
    names: list[str] = []
    for op in sorted(group.state, key=lambda i: ix.order[i]):
        names.extend(n for n in group.state[op] if n not in names)
    data["recurrent"] = True
    data["state"] = names
    return data


def _group_attrs(ix: Index, it: Item) -> dict[str, Any]:
    spec = it.group
    assert spec is not None
    ops = 0
    params: list[tuple[str, tuple[int, ...]]] = []
    kinds: set[str] = set()
    for i in sorted(it.members):
        d = ix.data[i]
        if d.get("kind") == OP:
            ops += 1
        elif d.get("kind") == GROUP:
            ops += int(d.get("ops") or 0)
        if d.get("kind") == TENSOR and d.get("role") == ROLE_PARAM:
            params.append((str(d.get("name") or d.get("label")), tuple(d.get("shape") or ())))
        kinds.update(ix.kinds.get(i, ()))
    repeat = spec.repeat
    out: dict[str, Any] = {
        "kind": GROUP,
        "label": f"{spec.title} ×{repeat}" if repeat > 1 else spec.title,
        "name": spec.name,
        "repeat": repeat,
        "ops": ops,
        "params": params,
        "param_count": sum(math.prod(shape) for _, shape in params),
        "module_class": ix.graph.module_class(spec.module),
        "members": [ix.ids[i] for i in sorted(it.members)],
        "link": None,
        "finding_kinds": sorted(kinds),
        "module": spec.module,
        "cluster": spec.cluster,
        "unit": [ix.ids[i] for i in sorted(spec.unit)] if spec.unit else None,
        "state": {ix.ids[i]: list(v) for i, v in spec.state.items()},
    }
    if spec.kind == OUTSIDE:
        out["boundary"] = True
    return out


def copy_graph(graph: AutogradGraph) -> AutogradGraph:
    """A deep copy (findings kept)."""
    g = AutogradGraph()
    g.graph.update(copy.deepcopy(graph.graph))
    for n, d in graph.nodes(data=True):
        g.add_node(n, **copy.deepcopy(d))
    for u, v, d in graph.edges(data=True):
        g.add_edge(u, v, **copy.deepcopy(d))
    if graph.findings:
        g.graph["findings"] = graph.findings
    return g
