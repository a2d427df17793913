"""The explorer's levels, from the drawing code's tree of pictures.

:func:`graphscope.draw.level_pictures` lays out every level of a graph (the overview, then a
drill-down per group, each within the budget: :mod:`graphscope.overview.levels`); this module
turns them into the explorer's :class:`~graphscope.explorer.Level` records and the page. (The
explorer lays nothing out itself: :func:`graphscope.draw.html_page` does, then calls here.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graphscope.dot import _dot_id
from graphscope.explorer._level import Level
from graphscope.explorer._page import explorer_page
from graphscope.explorer._sources import collect_sources
from graphscope.model import AutogradGraph

__all__ = ["explorer_levels", "page_from_levels"]

Drawn = Sequence[tuple[Any, AutogradGraph, bytes]]  # (overview Level, graph drawn, its SVG)


def explorer_levels(drawn: Drawn) -> list[Level]:
    """The explorer's levels (``L0`` the overview, in the order drawn)."""
    ids = {level.id: f"L{i}" for i, (level, _, _) in enumerate(drawn)}
    out = []
    for level, shown, svg in drawn:
        out.append(
            Level(
                ids[level.id],
                level.title,
                ids.get(level.parent) if level.parent is not None else None,
                shown,
                svg.decode("utf-8"),
                {_dot_id(n): n for n in shown},
                {gid: ids[child] for gid, child in level.opens.items() if child in ids},
            )
        )
    return out


def page_from_levels(graph: AutogradGraph, drawn: Drawn, *, title: str) -> str:
    """The explorer page of ``graph`` from its laid-out levels."""
    levels = explorer_levels(drawn)
    return explorer_page(graph, levels, title=title, sources=collect_sources(graph))
