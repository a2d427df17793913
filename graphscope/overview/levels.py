"""The pictures of one graph as a tree of levels: the overview, then a drill-down per group.

A :class:`Level` is plain data: its ``id`` (``"overview"``, then ``"<parent id>/<group id>"``),
a ``title``, its ``parent``'s id, the ``graph`` drawn (never more than ``max_nodes`` nodes),
and ``opens``: which group node of that graph opens which level. Each drill-down is the group's
nodes (a fold's one copy) with their neighbours, collapsed again when over the budget, so
every level fits, however deep the graph. :class:`Levels` plans them one at a time (so a
drawing can ask for a level to be redone coarser, when its layout is too slow, before its
drill-downs are planned); :func:`plan_levels` plans the whole tree.

>>> from graphscope.model import AutogradGraph
>>> g = AutogradGraph()
>>> for i in range(40):
...     g.add_node(f"n{i}", kind="op", label="TanhBackward0", name="TanhBackward0", order=i)
...     if i:
...         g.add_edge(f"n{i - 1}", f"n{i}")
>>> levels = plan_levels(g, max_nodes=5)
>>> [(lv.id, len(lv.graph), lv.opens) for lv in levels]
[('overview', 1, {'loop0': 'overview/loop0'}), ('overview/loop0', 3, {})]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from graphscope.model import GROUP, AutogradGraph
from graphscope.overview.fitting import needs_collapse

__all__ = ["Level", "Levels", "plan_levels", "MAX_LEVELS"]

MAX_LEVELS = 300  # pictures of one graph at most (a level past it opens nothing)


@dataclass
class Level:
    """One picture of the tree (see the module docstring)."""

    id: str
    title: str
    parent: str | None
    graph: AutogradGraph  # what is drawn
    source: AutogradGraph  # what it was drawn from (the graph, or a group's part of it)
    name: str = ""  # the group's name ("" for the overview): for file names
    budget: int = 0  # the node budget it was made with
    collapsed: bool = False
    opens: dict[str, str] = field(default_factory=dict)  # group node id -> level id


class Levels:
    """The levels of one graph, planned on demand; iterate for all of them (breadth first)."""

    def __init__(
        self,
        graph: AutogradGraph,
        *,
        max_nodes: int,
        depth: int | None = None,
        expand: Sequence[str] = (),
        max_levels: int = MAX_LEVELS,
    ) -> None:
        self.max_nodes = max_nodes
        self.max_levels = max_levels
        self.levels: dict[str, Level] = {}
        self.truncated = False  # some group opens nothing: max_levels was reached
        collapsed = needs_collapse(graph, max_nodes, depth, expand)
        shown = _collapse(graph, max_nodes, depth, tuple(expand)) if collapsed else graph
        self.root = self._add(
            Level("overview", "overview", None, shown, graph, "", max_nodes, collapsed)
        )

    def _add(self, level: Level) -> Level:
        self.levels[level.id] = level
        return level

    def children(self, level: Level) -> list[Level]:
        """Plan (once) and return the drill-downs of ``level``'s groups."""
        from graphscope.overview.drilldown import drill_nodes, subgraph

        if level.opens:
            return [self.levels[i] for i in level.opens.values()]
        out = []
        inner = sum(1 for _, d in level.source.nodes(data=True) if not d.get("boundary"))
        for gid, d in level.graph.nodes(data=True):
            if d.get("kind") != GROUP or d.get("boundary"):
                continue
            ids = drill_nodes(level.source, gid, d)
            if not ids or len(ids) >= inner:
                continue
            if len(self.levels) >= self.max_levels:
                self.truncated = True
                break
            sub = subgraph(
                level.source, ids, state=d.get("state") or {}, members=d.get("members") or ()
            )
            fits = not needs_collapse(sub, self.max_nodes)
            shown = sub if fits else _collapse(sub, self.max_nodes, None, ())
            child = Level(
                f"{level.id}/{gid}",
                str(d.get("label") or gid),
                level.id,
                shown,
                sub,
                str(d.get("name") or gid),
                self.max_nodes,
                not fits,
            )
            level.opens[gid] = self._add(child).id
            out.append(child)
        return out

    def redo(self, level: Level) -> Level | None:
        """:meth:`coarser`, forgetting the drill-downs planned for ``level`` first."""
        stack = list(level.opens.values())
        while stack:
            gone = self.levels.pop(stack.pop(), None)
            if gone is not None:
                stack.extend(gone.opens.values())
        level.opens = {}
        return self.coarser(level)

    def coarser(self, level: Level) -> Level | None:
        """``level`` redrawn collapsed one step more (half its nodes at most), replacing it;
        None when it cannot get smaller. Only before its drill-downs are planned."""
        budget = min(level.budget, len(level.graph)) // 2
        if budget < 1 or level.opens:
            return None
        shown = _collapse(level.source, budget, None, ())
        if len(shown) >= len(level.graph):
            return None
        new = Level(
            level.id,
            level.title,
            level.parent,
            shown,
            level.source,
            level.name,
            budget,
            True,
        )
        return self._add(new)

    def __iter__(self) -> Iterator[Level]:
        """Every level, breadth first (planning those not planned yet)."""
        queue = [self.root]
        while queue:
            level = self.levels[queue.pop(0).id]
            yield level
            queue.extend(self.children(level))


def plan_levels(
    graph: AutogradGraph,
    *,
    max_nodes: int,
    depth: int | None = None,
    expand: Sequence[str] = (),
) -> list[Level]:
    """Every level of ``graph``'s pictures (the overview first), each within ``max_nodes``."""
    return list(Levels(graph, max_nodes=max_nodes, depth=depth, expand=expand))


def _collapse(
    graph: AutogradGraph, max_nodes: int, depth: int | None, expand: tuple[str, ...]
) -> AutogradGraph:
    from graphscope.overview import collapse

    return collapse(graph, max_nodes=max_nodes, depth=depth, expand=expand)
