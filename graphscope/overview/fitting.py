"""Making a picture fit its budget: the depth that fits, leaves placed, and the last resorts.

:func:`fit` picks the deepest module depth whose picture has at most ``max_nodes`` nodes
(parameters and fixed nodes counted), and places each leaf: a parameter joins the group that
holds every op reading it (its module's group, or a fold), else it stays visible (a weight tied
between two modules shows as one node feeding both). When even the shallowest picture is too big
(no modules, no repeats), consecutive steps are cut into *chunks* (``part 2 of 5``); when a
drill-down has too many neighbours outside it, they are drawn as one node per place they come
from. Either way the result has at most ``max_nodes`` nodes.

A picture is also too *wide* when one op reads more than :data:`BUNDLE` parameters that nothing
else reads (a ``torch.compile`` region reads every weight of the model, and so does a custom
Function given them all): dot draws them side by side in one row tens of thousands of points
long (a 4-layer nanoGPT compiled: 10,770 px). Such parameters are drawn as one node per module
(*bundles*, ``h.0 · Block``, with a drill-down of their own), at the deepest module level that
gives at most :data:`BUNDLE` of them.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence

from graphscope.model import ROLE_PARAM, TENSOR, AutogradGraph
from graphscope.overview.grouping import Planner
from graphscope.overview.groups import CHUNK, FOLD, MODULE, OUTSIDE, Group, Item
from graphscope.overview.index import Index, Path, split

__all__ = ["fit", "needs_collapse", "too_wide", "BUNDLE"]

#: parameters read by one op (and nothing else) drawn one by one at most; more are bundled
BUNDLE = 8


def fit(planner: Planner, max_nodes: int, depth: int | None) -> list[Item]:
    """The items of the picture: at ``depth`` if given, else as much as fits (see
    :func:`_best_first`)."""
    if depth is None:
        best = _best_first(planner, max_nodes)
    else:
        best = _assemble(planner, depth)
    best = _bundled(planner, best)
    if len(best) > max_nodes:
        best = _outside(planner.ix, best, max_nodes)
    if len(best) > max_nodes:
        best = _chunks(planner, best, max_nodes)
    return best


def _best_first(planner: Planner, max_nodes: int) -> list[Item]:
    """Start with every top-level module collapsed, then open modules cheapest first (what
    opening one adds to the picture) while the picture fits: small modules show their ops,
    a big one stays a box with its own drill-down, and a module's children are considered
    only once it is open, so the overview keeps its top-level structure."""
    items = _assemble(planner, 0)
    count = len(items)
    if count > max_nodes:
        return items
    params = _leaves_per_path(planner.ix)
    heap: list[tuple[int, int, Path]] = []
    for it in items:
        if it.group is not None and it.group.kind == MODULE and it.group.module:
            path = split(it.group.module)
            heapq.heappush(heap, (_cost(planner, path, params), it.first, path))
    opened: list[Path] = []
    while heap:
        cost, _, path = heapq.heappop(heap)
        peers = [e for e in heap if e[0] == cost and _peers(planner, e[2], path)]
        if count + cost * (1 + len(peers)) > max_nodes:
            break  # the cheapest left does not fit (with its peers): none does
        for e in peers:
            heap.remove(e)
        heapq.heapify(heap)
        for p in [path, *(e[2] for e in peers)]:
            opened.append(p)
            count += cost
            lv = planner.level(p)
            for child, ops in lv.children.items():
                sub = p + (child,)
                if sub not in planner.opened:
                    heapq.heappush(heap, (_cost(planner, sub, params), min(ops), sub))
    best = _assemble(planner, 0, frozenset(opened))
    while len(best) > max_nodes and opened:  # the estimate was short: close the last ones
        opened.pop()
        best = _assemble(planner, 0, frozenset(opened))
    return best


def _peers(planner: Planner, a: Path, b: Path) -> bool:
    """Two modules opened together or not at all (``cell1`` and ``cell2``, two LSTMCells side
    by side): same parent, same class (and the same cost, checked by the caller)."""
    classes = planner.classes
    return a[:-1] == b[:-1] and classes.get(".".join(a)) == classes.get(".".join(b))


def _cost(planner: Planner, path: Path, params: dict[Path, int]) -> int:
    """How many more nodes the picture has with ``path`` open instead of one box."""
    lv = planner.level(path)
    own = sum(1 + len(planner.joined.get(i, ())) for i in lv.own)
    return len(lv.folds) + own + len(lv.children) + params.get(path, 0) - 1


def _leaves_per_path(ix: Index) -> dict[Path, int]:
    out: dict[Path, int] = {}
    for i, p in enumerate(ix.paths):
        if ix.leaf[i] and p:
            out[p] = out.get(p, 0) + 1
    return out


def _assemble(planner: Planner, depth: int, extra: frozenset[Path] = frozenset()) -> list[Item]:
    ix = planner.ix
    items = planner.items(depth, extra)
    item_of = [-1] * len(ix.ids)
    for k, it in enumerate(items):
        for i in it.members:
            item_of[i] = k
    modules = {it.group.module: k for k, it in enumerate(items) if it.group and it.group.module}
    unplaced: dict[str, list[int]] = {}
    for i in range(len(ix.ids)):
        if ix.fixed[i]:
            items.append(Item([i]))
            continue
        if not ix.leaf[i]:
            continue
        at = _home(ix, items, item_of, modules, i)
        if at is not None:
            items[at].members.append(i)
        elif not ix.succ[i] and ix.paths[i] and ix.data[i].get("role") == ROLE_PARAM:
            unplaced.setdefault(ix.paths[i][0], []).append(i)  # not reached, module not drawn
        else:
            items.append(Item([i]))
    for top, members in unplaced.items():
        g = Group(MODULE, top, planner.titled(top, None), members, module=top, gid="g:" + top)
        items.append(Item(members, g))
    for it in items:
        if it.group is not None and it.group.kind == FOLD and it.group.unit is not None:
            _unit_leaves(ix, it)
    return items


def _home(
    ix: Index, items: list[Item], item_of: list[int], modules: dict[str, int], i: int
) -> int | None:
    """The group a leaf joins, if any."""
    consumers = {item_of[j] for j in ix.succ[i]}
    path = ix.paths[i]
    if not consumers:  # not reached: its module's group, if drawn
        for j in range(len(path), 0, -1):
            at = modules.get(".".join(path[:j]))
            if at is not None:
                return at
        return None
    if len(consumers) != 1:
        return None
    at = consumers.pop()
    g = items[at].group if at >= 0 else None
    if g is None or ix.data[i].get("role") != ROLE_PARAM:
        return None
    if g.kind in (FOLD, CHUNK):
        return at
    mod = tuple((g.module or "").split("."))
    return at if path[: len(mod)] == mod else None


def _unit_leaves(ix: Index, it: Item) -> None:
    """A fold's parameters read by its unit are drawn in the unit's drill-down."""
    g = it.group
    assert g is not None and g.unit is not None
    unit = set(g.unit)
    for i in it.members:
        if ix.leaf[i] and i not in unit and any(j in unit for j in ix.succ[i]):
            g.unit.append(i)
            unit.add(i)


def needs_collapse(
    graph: AutogradGraph,
    max_nodes: int,
    depth: int | None = None,
    expand: Sequence[str] = (),
) -> bool:
    """Whether ``graph`` is drawn collapsed: more than ``max_nodes`` nodes, ``depth`` or
    ``expand`` given, or an op reading too many parameters to draw in one row."""
    return len(graph) > max_nodes or depth is not None or bool(expand) or too_wide(graph)


def too_wide(graph: AutogradGraph) -> bool:
    """Some op of ``graph`` reads more than :data:`BUNDLE` parameters with a module that
    nothing else reads: drawn as it is, they would make one very long row. The test of
    :func:`_bundled`, on the graph itself (no index built for a graph that fits)."""
    count: dict[str, int] = {}
    for n, d in graph.nodes(data=True):
        if d.get("kind") != TENSOR or d.get("role") != ROLE_PARAM or not d.get("module"):
            continue
        if d.get("boundary") or graph.in_degree(n):
            continue
        readers = set(graph.successors(n))
        if len(readers) == 1:
            op = readers.pop()
            count[op] = count.get(op, 0) + 1
            if count[op] > BUNDLE:
                return True
    return False


def _bundled(planner: Planner, items: list[Item]) -> list[Item]:
    """``items`` with the parameters of an op that reads too many (see the module docstring)
    drawn as one node per module."""
    ix = planner.ix
    item_of = [-1] * len(ix.ids)
    for k, it in enumerate(items):
        for i in it.members:
            item_of[i] = k
    readers: dict[int, list[int]] = {}  # an item -> the parameter items only it reads
    for k, it in enumerate(items):
        i = it.members[0]
        if it.group is not None or not ix.leaf[i] or not ix.paths[i]:
            continue
        if ix.data[i].get("role") != ROLE_PARAM:
            continue
        consumers = {item_of[j] for j in ix.succ[i]}
        if len(consumers) == 1:
            readers.setdefault(consumers.pop(), []).append(k)
    drop: set[int] = set()
    out = list(items)
    for ks in readers.values():
        if len(ks) <= BUNDLE:
            continue
        for key, members in _by_module(ix, [items[k].members[0] for k in ks]).items():
            if len(members) < 2:
                continue  # a module of one parameter: the parameter itself
            name = ".".join(key)
            cluster = ".".join(key[:-1]) or None
            title = planner.titled(name, cluster)
            out.append(
                Item(
                    members,
                    Group(
                        MODULE, name, title, members, module=name, cluster=cluster, gid="g:" + name
                    ),
                )
            )
            drop.update(item_of[i] for i in members)
    return [it for k, it in enumerate(out) if k not in drop] if drop else items


def _by_module(ix: Index, params: list[int]) -> dict[Path, list[int]]:
    """``params`` by module, at the deepest level below their common module that gives at
    most :data:`BUNDLE` modules (the level just below it when none does)."""
    paths = [ix.paths[i] for i in params]
    common = 0
    while all(len(p) > common and p[common] == paths[0][common] for p in paths):
        common += 1
    deepest = max(len(p) for p in paths)
    depth = common + 1
    for d in range(common + 1, deepest + 1):
        if len({p[:d] for p in paths}) > BUNDLE:
            break
        depth = d
    out: dict[Path, list[int]] = {}
    for i, p in zip(params, paths, strict=True):
        out.setdefault(p[:depth], []).append(i)
    return out


def _outside(ix: Index, items: list[Item], max_nodes: int) -> list[Item]:
    """A drill-down's neighbours (``boundary``), one node per module they come from, when
    they would take more than a third of the budget."""
    border = [k for k, it in enumerate(items) if it.group is None and _is_border(ix, it)]
    if len(border) <= max_nodes // 3:
        return items
    by_place: dict[str, list[int]] = {}
    for k in border:
        i = items[k].members[0]
        place = ix.paths[i][0] if ix.paths[i] else str(ix.data[i].get("module") or "")
        by_place.setdefault(place.split(".")[0] or "outside", []).extend(items[k].members)
    drop = set(border)
    out = [it for k, it in enumerate(items) if k not in drop]
    for place, members in sorted(by_place.items()):
        name = f"{place} (outside)"
        out.append(Item(members, Group(OUTSIDE, name, name, members, gid="outside:" + place)))
    return out


def _is_border(ix: Index, it: Item) -> bool:
    i = it.members[0]
    return bool(ix.data[i].get("boundary"))


def _chunks(planner: Planner, items: list[Item], max_nodes: int) -> list[Item]:
    """Consecutive steps (in forward order) grouped into parts, as few nodes hidden as it
    takes to fit: one part of 6 when the picture is 5 nodes over, parts of half the budget
    (each part's drill-down then fits, border included) when it is far over."""
    ix = planner.ix
    keep = [it for it in items if _stays(ix, it)]
    rest = [it for it in items if not _stays(ix, it)]
    leaves = [it for it in rest if it.group is None and ix.leaf[it.members[0]]]
    if len(keep) + len(leaves) <= max_nodes // 2:  # parameters stay in sight if they can
        keep += leaves
        rest = [it for it in rest if it.group is not None or not ix.leaf[it.members[0]]]
    rest.sort(key=lambda it: (min(ix.order[i] for i in it.members), it.first))
    room = max(1, max_nodes - len(keep))
    excess = len(rest) - room
    if excess <= 0:
        return items
    size = max(2, max_nodes // 2)
    if excess < size - 1:
        size = excess + 1
    count = min(math.ceil(excess / (size - 1)), math.ceil(len(rest) / size))
    if count > room:  # far too many: parts of parts (each part's drill-down is cut again)
        size = math.ceil(len(rest) / room)
        count = math.ceil(len(rest) / size)
    out = list(keep)
    parts = [rest[k * size : (k + 1) * size] for k in range(count)]
    for n, part in enumerate(parts):
        members = sorted(i for it in part for i in it.members)
        name = f"part {n + 1} of {len(parts)}"
        out.append(Item(members, Group(CHUNK, name, name, members)))
    out.extend(rest[count * size :])
    return out


def _stays(ix: Index, it: Item) -> bool:
    if it.group is not None:
        return it.group.kind == OUTSIDE
    return ix.fixed[it.members[0]]
