"""Stand-in drill-down: the explorer's levels made from today's collapse and render code.

Temporary, and kept apart on purpose: the drawing code's own drill-down orchestration will
replace it. The overview is the graph collapsed to the budget (``Options.max_nodes``); every
group of a level gets a level of its own (a fold: its first copy), collapsed again when over
the budget, breadth first, until no group is left or :data:`MAX_LEVELS` levels are made.
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace

from graphscope.dot import _dot_id, to_dot
from graphscope.draw import shown_graph
from graphscope.explorer._level import Level
from graphscope.explorer._page import explorer_page
from graphscope.explorer._sources import collect_sources
from graphscope.layout import Engine, find_engine, layout
from graphscope.model import GROUP, AutogradGraph
from graphscope.options import Options
from graphscope.overview import plan_drilldown

MAX_LEVELS = 200  # groups past this many levels are drawn, inspected and searched, not opened


def build_levels(
    graph: AutogradGraph, options: Options | None = None, *, engine: Engine | None = None
) -> list[Level]:
    """The overview of ``graph`` and one level per group, each laid out by ``engine``."""
    options = options or Options()
    engine = engine or find_engine(options.engine)
    sub_options = replace(options, depth=None, expand=(), show_legend=False)
    todo: deque[tuple[AutogradGraph, str, str | None, Options]] = deque(
        [(graph, "overview", None, options)]
    )
    levels: list[Level] = []
    made = 1
    while todo:
        source, title, parent, opts = todo.popleft()
        shown, collapsed = shown_graph(source, opts)
        children: dict[str, str] = {}
        if collapsed:
            for gid, sub in plan_drilldown(source, shown).items():
                if made >= MAX_LEVELS:
                    break
                children[gid] = f"L{made}"
                made += 1
                todo.append((sub, _title(shown, gid), f"L{len(levels)}", sub_options))
        svg = layout(to_dot(shown, opts), "svg", engine).decode("utf-8")
        dot_ids = {_dot_id(n): n for n in shown}
        levels.append(Level(f"L{len(levels)}", title, parent, shown, svg, dot_ids, children))
    return levels


def _title(shown: AutogradGraph, gid: str) -> str:
    d = shown.nodes[gid]
    name = str(d.get("name") or gid)
    repeat = int(d.get("repeat") or 1)
    return f"{name} ×{repeat} (one copy)" if d.get("kind") == GROUP and repeat > 1 else name


def html_page(
    graph: AutogradGraph,
    options: Options | None = None,
    *,
    engine: Engine | None = None,
    title: str = "graphscope",
) -> tuple[str, list[Level]]:
    """The explorer page of ``graph`` and the levels it holds (what ``--format html`` writes)."""
    levels = build_levels(graph, options, engine=engine)
    page = explorer_page(graph, levels, title=title, sources=collect_sources(graph))
    return page, levels
