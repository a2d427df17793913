"""Collapse and fold a large :class:`~graphscope.model.AutogradGraph` into a readable overview.

A 10,000-node picture is unreadable and takes minutes to lay out; what a user needs is an
overview that fits on a screen and a way into any part of it. :func:`collapse` returns a new
graph (the input is never changed) in which:

* **module subtrees** become single ``kind="group"`` nodes (see :mod:`graphscope.model`). A
  node's module is its op's ``module``; a parameter's is the module that owns it; any other
  tensor joins the op that produced it. Roots and ``boundary`` nodes always stay visible.
  ``depth=K`` shows modules down to level ``K`` expanded (``encoder`` is level 1,
  ``encoder.layers`` level 2; ``depth=0`` shows every top-level module as one group); the
  automatic depth is the deepest whose picture fits in ``max_nodes``. ``expand`` names modules
  to show expanded whatever the depth: their own nodes are drawn, their children become groups.
* **identical siblings fold**: consecutive children of one module with the same structure
  (ops, internal edges, parameter shapes; indexes in names ignored) become one group with
  ``repeat=N`` ("layers.0–11 ×12"); a repeated *sequence* of siblings (``Linear, ReLU, Linear,
  ReLU, ...``) folds the same way. Only an explicitly expanded module (or one of its ancestors
  on the way to an expanded path) is drawn unfolded.
* **loops fold** when there are no modules to group by, or grouping alone does not reach the
  budget: a unit of nodes that repeats along the walk order (``Mul, Add, Tanh`` of a recurrent
  cell unrolled 1,000 times), with the same edges between consecutive copies, becomes one group
  ``×N``. Near-linear time, no recursion.

Findings are never hidden: a group holding a node with a finding lists the kinds in
``finding_kinds``, and the finding is re-pointed to the group.

>>> g = AutogradGraph()
>>> for i in range(12):
...     g.add_node(f"n{i}", kind="op", label="ReluBackward0", name="ReluBackward0", module=None)
...     if i:
...         g.add_edge(f"n{i}", f"n{i - 1}")
>>> small = collapse(g, max_nodes=4)
>>> [(n, d.get("repeat")) for n, d in small.nodes(data=True)]
[('n0', None), ('loop0', 10), ('n11', None)]
>>> small.nodes["loop0"]["label"]
'Relu ×10'
"""

from __future__ import annotations

import copy
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from graphscope._gc import gc_paused
from graphscope.errors import UsageError
from graphscope.model import GROUP, OP, ROLE_PARAM, TENSOR, AutogradGraph

__all__ = ["collapse", "subgraph_for", "plan_drilldown"]

_DIGITS = re.compile(r"\d+")
_BACKWARD = re.compile(r"Backward\d*$")
_MAX_PERIOD = 256  # longest loop unit looked for (nodes)
_MAX_CANDIDATES = 8  # loop periods tried per pass
_MAX_PASSES = 4  # loop-folding passes (nested loops fold one level per pass)
_MAX_SIBLING_PERIOD = 8  # longest repeated sequence of sibling modules
_MAX_NAME_PARTS = 4

Path = tuple[str, ...]


# -- public API -----------------------------------------------------------------------------------


def collapse(
    graph: AutogradGraph,
    *,
    max_nodes: int = 300,
    depth: int | None = None,
    expand: Sequence[str] = (),
) -> AutogradGraph:
    """A new graph of at most about ``max_nodes`` nodes: modules collapsed, repeats folded.

    Returns an unchanged copy when ``graph`` already fits and neither ``depth`` nor ``expand``
    is given. Deterministic: the same graph gives the same ids in the same order. Group ids
    are ``g:<module path>`` (``g:encoder.layers.0-11`` for a fold) and ``loop0``, ``loop1``...
    """
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1:
        raise UsageError(f"max_nodes must be a positive int (got {max_nodes!r})")
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 0):
        raise UsageError(f"depth must be an int >= 0 or None (got {depth!r})")
    if isinstance(expand, str):
        expand = (expand,)
    expand = tuple(expand)
    if len(graph) <= max_nodes and depth is None and not expand:
        return _copy(graph)
    with gc_paused():
        ix = _Index(graph)
        items, rep = ix.module_items(max_nodes, depth, expand)
        for _ in range(_MAX_PASSES):
            if len(items) <= max_nodes:
                break
            folded = _fold_loops(ix, items, rep)
            if folded is None:
                break
            items, rep = folded
        return _build(ix, items, rep)


def subgraph_for(graph: AutogradGraph, path: str) -> AutogradGraph:
    """The nodes of module ``path``'s subtree, plus their neighbours marked ``boundary=True``.

    For drill-down pictures: collapsing the result never folds the boundary nodes away.
    """
    ix = _Index(graph)
    want = _split(path)
    if not want:
        raise UsageError("subgraph_for needs a module path such as 'encoder.layers.0' (got '')")
    k = len(want)
    ids = [ix.ids[i] for i, p in enumerate(ix.paths) if p[:k] == want]
    if not ids:
        raise UsageError(
            f"no node of this graph belongs to module {path!r}; modules present: {_some_paths(ix)}"
        )
    return _subgraph(graph, ids)


def plan_drilldown(graph: AutogradGraph, collapsed: AutogradGraph) -> dict[str, AutogradGraph]:
    """One drill-down graph per group of ``collapsed`` (made from ``graph``), keyed by group id.

    A module group gets its module's nodes; a folded group (``repeat > 1``) gets its first copy,
    so a drill-down is always smaller than ``graph`` and drilling down always ends.
    """
    plans: dict[str, AutogradGraph] = {}
    for gid, d in collapsed.nodes(data=True):
        if d.get("kind") != GROUP:
            continue
        ids = [n for n in (d.get("unit") or d.get("members") or ()) if n in graph]
        if not ids:
            continue
        sub = _subgraph(graph, ids)
        if len(sub) < len(graph):
            plans[gid] = sub
    return plans


# -- the index: plain lists over node positions ---------------------------------------------------


@dataclass
class _Item:
    """A visible node of the result: one original node, or a group of several."""

    members: list[int]  # positions of original nodes, ascending
    group: dict[str, Any] | None = None  # name, repeat, module, unit (positions), key


@dataclass
class _Run:
    key: tuple[Any, ...]
    name: str
    repeat: int
    first: Path  # the first copy's module path
    unit: tuple[Path, ...]  # the sibling modules of the first copy


class _Index:
    def __init__(self, graph: AutogradGraph) -> None:
        self.graph = graph
        self.ids: list[str] = list(graph.nodes)
        self.pos = {n: i for i, n in enumerate(self.ids)}
        self.data: list[dict[str, Any]] = [graph.nodes[n] for n in self.ids]
        pos = self.pos
        self.succ: list[list[int]] = [[] for _ in self.ids]
        self.pred: list[list[int]] = [[] for _ in self.ids]
        for u, v in graph.edges():
            a, b = pos[u], pos[v]
            self.succ[a].append(b)
            self.pred[b].append(a)
        roots = set(graph.graph.get("roots") or ())
        self.fixed = [
            n in roots or bool(d.get("boundary")) for n, d in zip(self.ids, self.data, strict=True)
        ]
        self.has_modules = any(d.get("kind") == OP and d.get("module") for d in self.data)
        self.paths = self._paths()
        self.kinds: dict[int, list[str]] = {}
        for f in graph.findings:
            if f.node in pos:
                self.kinds.setdefault(pos[f.node], []).append(f.kind)

    def _paths(self) -> list[Path]:
        paths: list[Path] = [()] * len(self.ids)
        for i, d in enumerate(self.data):
            if self.fixed[i]:
                continue
            kind = d.get("kind")
            if kind == OP or (kind == TENSOR and d.get("module")):
                paths[i] = _split(d.get("module"))
        for i, d in enumerate(self.data):  # other tensors join the op that produced them
            if self.fixed[i] or d.get("kind") != TENSOR or d.get("module"):
                continue
            for u in self.pred[i]:
                if self.data[u].get("kind") == OP:
                    paths[i] = paths[u]
                    break
        return paths

    # module grouping ---------------------------------------------------------------------------

    def module_items(
        self, max_nodes: int, depth: int | None, expand: tuple[str, ...]
    ) -> tuple[list[_Item], list[int]]:
        n = len(self.ids)
        if not self.has_modules:
            if expand:
                raise UsageError(
                    f"expand={list(expand)!r} needs module paths on the op nodes, and this graph "
                    "has none (plain trace() does not record them); capture it with "
                    "graphscope.watch() or the graphscope command to expand modules"
                )
            return [_Item([i]) for i in range(n)], list(range(n))
        self.members: dict[Path, list[int]] = {}
        self.children: dict[Path, list[str]] = {}
        for i, p in enumerate(self.paths):
            for j in range(1, len(p) + 1):
                pre = p[:j]
                lst = self.members.get(pre)
                if lst is None:
                    self.members[pre] = lst = []
                    self.children.setdefault(pre[:-1], []).append(pre[-1])
                lst.append(i)
        self.explicit: set[Path] = set()
        for e in expand:
            p = _split(e)
            if p not in self.members:
                raise UsageError(
                    f"expand: no node of this graph belongs to module {e!r}; modules present: "
                    f"{_some_paths(self)}"
                )
            self.explicit.add(p)
        self.opened = {p[:j] for p in self.explicit for j in range(1, len(p) + 1)}
        groupable = sum(1 for p in self.paths if p)
        self.opened |= {p for p, m in self.members.items() if len(m) == groupable}
        self._runs: dict[Path, dict[Path, _Run]] = {}
        self._sig_ids: dict[Any, int] = {}
        if depth is None:
            deepest = max(len(p) for p in self.members)
            depth = 0
            for k in range(deepest + 1):
                if self._count(k) > max_nodes:
                    break
                depth = k
        return self._items(depth)

    def _key_of_path(self, path: Path, depth: int) -> tuple[Any, ...] | None:
        for j in range(1, len(path) + 1):
            pre = path[:j]
            run = self._runs_under(pre[:-1]).get(pre)
            if run is not None:
                return run.key
            if j <= depth or pre in self.opened:
                continue
            return ("mod", pre)
        return None

    def _keys(self, depth: int) -> list[tuple[Any, ...] | None]:
        cache: dict[Path, tuple[Any, ...] | None] = {}
        keys: list[tuple[Any, ...] | None] = []
        for p in self.paths:
            if not p:
                keys.append(None)
                continue
            if p not in cache:
                cache[p] = self._key_of_path(p, depth)
            keys.append(cache[p])
        return keys

    def _count(self, depth: int) -> int:
        keys = self._keys(depth)
        return sum(1 for k in keys if k is None) + len({k for k in keys if k is not None})

    def _items(self, depth: int) -> tuple[list[_Item], list[int]]:
        items: list[_Item] = []
        rep: list[int] = []
        where: dict[tuple[Any, ...], int] = {}
        keys = self._keys(depth)
        runs = {r.key: r for under in self._runs.values() for r in under.values()}
        for i, key in enumerate(keys):
            if key is None:
                rep.append(len(items))
                items.append(_Item([i]))
                continue
            at = where.get(key)
            if at is None:
                at = where[key] = len(items)
                items.append(_Item([], self._group_spec(key, runs)))
            items[at].members.append(i)
            rep.append(at)
        return items, rep

    def _group_spec(self, key: tuple[Any, ...], runs: dict[Any, _Run]) -> dict[str, Any]:
        if key[0] == "mod":
            name = ".".join(key[1])
            return {"name": name, "repeat": 1, "module": name, "unit": None, "id": "g:" + name}
        run = runs[key]
        unit = sorted(i for p in run.unit for i in self.members[p])
        return {
            "name": run.name,
            "repeat": run.repeat,
            "module": ".".join(run.first),
            "unit": unit,
            "id": "g:" + run.name.replace("–", "-"),
        }

    # folding identical siblings --------------------------------------------------------------

    def _runs_under(self, parent: Path) -> dict[Path, _Run]:
        """Runs of identical consecutive children of ``parent``: child path -> its run."""
        got = self._runs.get(parent)
        if got is not None:
            return got
        got = {}
        self._runs[parent] = got
        if parent in self.explicit:
            return got
        kids = sorted(self.children.get(parent, ()), key=_natural)
        sigs = [None if parent + (k,) in self.opened else self._sig(parent + (k,)) for k in kids]
        for start, period, reps in self._linked(
            parent, kids, _periodic_runs(sigs, _MAX_SIBLING_PERIOD)
        ):
            first, last = kids[start], kids[start + period * reps - 1]
            prefix = ".".join(parent) + "." if parent else ""
            run = _Run(
                key=("fold", parent, first, last),
                name=f"{prefix}{first}–{last}",
                repeat=reps,
                first=parent + (first,),
                unit=tuple(parent + (k,) for k in kids[start : start + period]),
            )
            for k in kids[start : start + period * reps]:
                got[parent + (k,)] = run
        return got

    def _linked(
        self, parent: Path, kids: list[str], runs: list[tuple[int, int, int]]
    ) -> Iterator[tuple[int, int, int]]:
        """Split runs where data does not flow from one copy straight into the next.

        Identical siblings that are not chained (``norm1`` and ``norm2`` of a transformer
        layer, used at two different places) are not folded: that would merge two places.
        """
        for start, p, reps in runs:
            copies = [
                {
                    i
                    for k in kids[start + c * p : start + (c + 1) * p]
                    for i in self.members[parent + (k,)]
                }
                for c in range(reps)
            ]
            lo = 0
            for c in range(1, reps + 1):
                if c < reps and self._touch(copies[c - 1], copies[c]):
                    continue
                if c - lo >= 2:
                    yield start + lo * p, p, c - lo
                lo = c

    def _touch(self, a: set[int], b: set[int]) -> bool:
        return any(j in b for i in a for j in self.succ[i]) or any(
            j in a for i in b for j in self.succ[i]
        )

    def _sig(self, path: Path) -> int:
        """The structure of a module subtree, as a small int (equal structure, equal int)."""
        members = self.members[path]
        inside = set(members)
        prefix = ".".join(path) + "."
        depth = len(path)
        desc: dict[int, str] = {}
        for i in members:
            d = self.data[i]
            rel = ".".join(self.paths[i][depth:])
            if d.get("kind") == OP:
                desc[i] = f"o|{d.get('name')}|{rel}"
            else:
                name = d.get("name") or ""
                name = name[len(prefix) :] if name.startswith(prefix) else _DIGITS.sub("#", name)
                desc[i] = f"t|{d.get('role')}|{name}|{d.get('shape')}|{rel}"
        nodes = tuple(sorted(desc.values()))
        edges = tuple(
            sorted((desc[i], desc[j]) for i in members for j in self.succ[i] if j in inside)
        )
        return self._sig_ids.setdefault((nodes, edges), len(self._sig_ids))


def _periodic_runs(sigs: list[int | None], max_period: int) -> list[tuple[int, int, int]]:
    """``(start, period, repeats)`` of maximal repeats in ``sigs`` (``None`` never repeats)."""
    out = []
    i, m = 0, len(sigs)
    while i < m:
        best: tuple[int, int] | None = None
        if sigs[i] is not None:
            for p in range(1, min(max_period, (m - i) // 2) + 1):
                unit = sigs[i : i + p]
                if None in unit:
                    break
                reps = 1
                while sigs[i + reps * p : i + (reps + 1) * p] == unit:
                    reps += 1
                if reps >= 2 and (best is None or p * reps > best[0] * best[1]):
                    best = (p, reps)
        if best is None:
            i += 1
            continue
        out.append((i, best[0], best[1]))
        i += best[0] * best[1]
    return out


# -- loop folding ---------------------------------------------------------------------------------


def _fold_loops(
    ix: _Index, items: list[_Item], rep: list[int]
) -> tuple[list[_Item], list[int]] | None:
    """Fold repeated units along the item order; None when nothing repeats."""
    m = len(items)
    outs: list[list[int]] = [[] for _ in range(m)]
    ins: list[list[int]] = [[] for _ in range(m)]
    for i, succ in enumerate(ix.succ):
        a = rep[i]
        for j in succ:
            b = rep[j]
            if a != b:
                outs[a].append(b)
                ins[b].append(a)
    interned: dict[str, int] = {}
    labels = []
    for k, it in enumerate(items):
        text = _item_text(ix, it)
        labels.append(-1 - k if text is None else interned.setdefault(text, len(interned)))
    runs: list[tuple[int, int, int]] = []
    for p in _candidate_periods(labels):
        runs.extend(_loop_runs(labels, outs, ins, p))
    if not runs:
        return None
    runs.sort(key=lambda r: (-r[1] * r[2], r[1], r[0]))
    taken = [False] * m
    chosen: dict[int, tuple[int, int]] = {}
    for start, p, reps in runs:
        end = start + p * reps
        if any(taken[start:end]):
            continue
        for k in range(start, end):
            taken[k] = True
        chosen[start] = (p, reps)
    new_items: list[_Item] = []
    new_of = [0] * m
    k = 0
    while k < m:
        if k in chosen:
            p, reps = chosen[k]
            end = k + p * reps
            members = sorted(i for it in items[k:end] for i in it.members)
            unit = sorted(i for it in items[k : k + p] for i in it.members)
            name = _loop_name(ix, items[k : k + p])
            group = {"name": name, "repeat": reps, "module": None, "unit": unit, "id": None}
            for q in range(k, end):
                new_of[q] = len(new_items)
            new_items.append(_Item(members, group))
            k = end
        else:
            new_of[k] = len(new_items)
            new_items.append(items[k])
            k += 1
    return new_items, [new_of[r] for r in rep]


def _item_text(ix: _Index, it: _Item) -> str | None:
    """What must be equal for two items to be copies of each other (None: never)."""
    g = it.group
    if g is not None:
        return f"g|{_DIGITS.sub('#', g['name'])}|{g['repeat']}|{len(it.members)}"
    i = it.members[0]
    if ix.fixed[i]:
        return None
    d = ix.data[i]
    module = _DIGITS.sub("#", d.get("module") or "")
    if d.get("kind") == OP:
        return f"o|{d.get('name')}|{module}"
    label = _DIGITS.sub("#", str(d.get("label") or ""))
    return f"{d.get('kind')}|{d.get('role')}|{label}|{d.get('shape')}|{module}"


def _candidate_periods(labels: list[int]) -> list[int]:
    """The most common distances between equal labels: the likely loop periods."""
    last: dict[int, int] = {}
    counts: Counter[int] = Counter()
    for i, lab in enumerate(labels):
        j = last.get(lab)
        if j is not None and i - j <= _MAX_PERIOD:
            counts[i - j] += 1
        last[lab] = i
    ranked = sorted((c, -d) for d, c in counts.items() if c >= 2)
    return [-negd for _, negd in reversed(ranked[-_MAX_CANDIDATES:])]


def _loop_runs(
    labels: list[int], outs: list[list[int]], ins: list[list[int]], p: int
) -> list[tuple[int, int, int]]:
    """Runs of period ``p``: equal labels and equal nearby edges, copy after copy."""
    m = len(labels)
    window = 2 * p
    out: list[tuple[int, int, int]] = []

    def shape_at(k: int, lo: int, hi: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        # edges to nodes outside the repeating stretch (a shared weight, the loss) or far
        # along it do not say whether two copies match; the edges between neighbours do
        return (
            tuple(sorted(b - k for b in outs[k] if lo <= b < hi and -window <= b - k <= window)),
            tuple(sorted(a - k for a in ins[k] if lo <= a < hi and -window <= a - k <= window)),
        )

    i = 0
    while i < m - p:
        if labels[i] != labels[i + p]:
            i += 1
            continue
        j = i
        while j < m - p and labels[j] == labels[j + p]:
            j += 1
        if j - i >= p:  # positions [i, j + p) repeat with period p at least twice
            shapes = [shape_at(k, i, j + p) for k in range(i, j + p)]
            k = i
            while k < j:
                if shapes[k - i] != shapes[k - i + p]:
                    k += 1
                    continue
                s = k
                while k < j and shapes[k - i] == shapes[k - i + p]:
                    k += 1
                reps = (k - s + p) // p
                if reps >= 2:
                    out.append((s, p, reps))
        i = j + 1
    return out


def _loop_name(ix: _Index, unit: list[_Item]) -> str:
    """``Mul→Add→Tanh``: the unit in forward order (the walk lists it loss-first)."""
    parts = []
    for it in reversed(unit):
        if it.group is not None:
            g = it.group
            parts.append(g["name"] + (f" ×{g['repeat']}" if g["repeat"] > 1 else ""))
            continue
        d = ix.data[it.members[0]]
        if d.get("kind") == OP:
            parts.append(_BACKWARD.sub("", str(d.get("label") or d.get("name"))) or "op")
        else:  # "layers.7.bias" names one copy only: say "bias"
            parts.append(str(d.get("label")).rpartition(".")[2])
    if len(parts) > _MAX_NAME_PARTS:
        parts = parts[: _MAX_NAME_PARTS - 1] + [f"… ({len(parts)} nodes)"]
    return "→".join(parts)


# -- building the result --------------------------------------------------------------------------


def _build(ix: _Index, items: list[_Item], rep: list[int]) -> AutogradGraph:
    g = AutogradGraph()
    g.graph.update(copy.deepcopy(ix.graph.graph))
    ids: list[str] = []
    loops = 0
    for it in items:
        if it.group is None:
            nid = ix.ids[it.members[0]]
            g.add_node(nid, **copy.deepcopy(ix.data[it.members[0]]))
        else:
            nid = it.group["id"]
            if nid is None:
                nid = f"loop{loops}"
                loops += 1
            g.add_node(nid, **_group_attrs(ix, it))
        ids.append(nid)
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
                agg[key] = {
                    "slot": None,
                    "slots": [],
                    "output_nr": None,
                    "shape": d.get("shape"),
                    "dtype": d.get("dtype"),
                }
                order.append(key)
                continue
            if e["shape"] != d.get("shape"):
                e["shape"] = None
            if e["dtype"] != d.get("dtype"):
                e["dtype"] = None
    for key in order:
        a, b = key
        if key in plain:
            g.add_edge(ids[a], ids[b], **copy.deepcopy(plain[key]))
        else:
            g.add_edge(ids[a], ids[b], **agg[key])
    findings = []
    for f in ix.graph.findings:
        if f.node in ix.pos:
            nid = ids[rep[ix.pos[f.node]]]
            if nid != f.node:
                f = replace(f, node=nid)
        findings.append(f)
    if findings:
        g.graph["findings"] = tuple(findings)
    return g


def _group_attrs(ix: _Index, it: _Item) -> dict[str, Any]:
    spec = it.group
    assert spec is not None
    ops = 0
    params: list[tuple[str, tuple[int, ...]]] = []
    kinds: set[str] = set()
    for i in it.members:
        d = ix.data[i]
        if d.get("kind") == OP:
            ops += 1
        elif d.get("kind") == GROUP:
            ops += int(d.get("ops") or 0)
        if d.get("kind") == TENSOR and d.get("role") == ROLE_PARAM:
            params.append((str(d.get("name") or d.get("label")), tuple(d.get("shape") or ())))
        kinds.update(ix.kinds.get(i, ()))
    repeat = spec["repeat"]
    name = spec["name"]
    info = (ix.graph.graph.get("modules") or {}).get(spec["module"] or "") or {}
    return {
        "kind": GROUP,
        "label": f"{name} ×{repeat}" if repeat > 1 else name,
        "name": name,
        "repeat": repeat,
        "ops": ops,
        "params": params,
        "param_count": sum(math.prod(shape) for _, shape in params),
        "module_class": info.get("cls"),
        "members": [ix.ids[i] for i in it.members],
        "link": None,
        "finding_kinds": sorted(kinds),
        "module": spec["module"],
        "unit": [ix.ids[i] for i in spec["unit"]] if spec["unit"] else None,
    }


def _copy(graph: AutogradGraph) -> AutogradGraph:
    g = AutogradGraph()
    g.graph.update(copy.deepcopy(graph.graph))
    for n, d in graph.nodes(data=True):
        g.add_node(n, **copy.deepcopy(d))
    for u, v, d in graph.edges(data=True):
        g.add_edge(u, v, **copy.deepcopy(d))
    if graph.findings:
        g.graph["findings"] = graph.findings
    return g


def _subgraph(graph: AutogradGraph, ids: Iterable[str]) -> AutogradGraph:
    inside = set(ids)
    border = {m for n in inside for m in (*graph.pred[n], *graph.succ[n])} - inside
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
            g.add_edge(u, v, **copy.deepcopy(d))
    found = tuple(f for f in graph.findings if f.node in g)
    if found or "findings" in g.graph:
        g.graph["findings"] = found
    return g


# -- small helpers --------------------------------------------------------------------------------


def _split(path: str | None) -> Path:
    return tuple(path.split(".")) if path else ()


def _natural(name: str) -> tuple[Any, ...]:
    """``layers.2`` before ``layers.10``."""
    return tuple(
        (0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", name) if t
    )


def _some_paths(ix: _Index) -> str:
    found = sorted({".".join(p[:2]) for p in ix.paths if p}, key=_natural)
    if not found:
        return "none (this graph has no module paths)"
    more = f", ... ({len(found)} in all)" if len(found) > 10 else ""
    return ", ".join(found[:10]) + more
