"""One picture of the explorer's hierarchy: the :class:`Level` the drawing code hands over."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from graphscope.model import AutogradGraph


@dataclass(frozen=True)
class Level:
    """One laid-out picture: the overview (``parent`` None) or a drill-down into a group.

    ``graph`` holds original nodes and ``kind="group"`` nodes (see :mod:`graphscope.model`);
    ``svg`` is that graph laid out by Graphviz (an ``<svg>`` element); ``dot_ids`` maps the text
    of each ``<g class="node"><title>`` to the node id in ``graph``; ``children`` maps a group
    node id of this level to the id of the level that opens it.
    """

    id: str  # "L0", "L1", ...
    title: str  # "overview", "encoder.layers.0", "layers.0–5 ×6 (one copy)"
    parent: str | None  # id of the level it was entered from
    graph: AutogradGraph
    svg: str
    dot_ids: Mapping[str, str]
    children: Mapping[str, str]
