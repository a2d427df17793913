"""Collapse and fold a large :class:`~graphscope.model.AutogradGraph` into readable pictures.

A 10,000-node picture is unreadable and takes minutes to lay out; what a user needs is an
overview that fits on a screen and a way into any part of it. :func:`collapse` returns a new
graph (the input is never changed) of at most ``max_nodes`` nodes, in which

* **modules** become single ``kind="group"`` nodes, named by instance (``cell1 · LSTMCell``,
  ``encoder.layers.3``): an op's module is its ``module``; a parameter joins the group that
  holds all the ops reading it; a tensor joins the op that made it. Roots and ``boundary``
  nodes always stay visible. ``depth=K`` shows modules down to level ``K`` expanded
  (``encoder`` is level 1, ``encoder.layers`` level 2; ``depth=0`` shows every top-level module
  as one group); the automatic depth is the deepest whose picture fits. ``expand`` names
  modules to show expanded whatever the depth.
* **repeats fold**, at every module level: identical sibling layers (``layers.0–11 ×12``) and
  the steps of a loop, whether the loop calls modules from the script (``cell1 → cell2 → head
  ×300``) or runs inside one module's ``forward``. The state a step hands to the next shows as
  a self-loop on the fold.
* when nothing else is left, consecutive steps are cut into parts (``part 2 of 5``).
* an op that reads more than :data:`~graphscope.overview.fitting.BUNDLE` parameters (a compiled
  region reads them all) gets them as one node per module, even when the graph is small: one
  row of 30 weights is no picture (:func:`needs_collapse`).

:func:`plan_drilldown` gives each group's drill-down graph and :func:`plan_levels` the whole
tree of pictures, each within the budget (:mod:`~graphscope.overview.levels`).

Findings are never hidden: a group holding a node with a finding lists the kinds in
``finding_kinds``, and the finding is re-pointed to the group.

>>> g = AutogradGraph()
>>> for i in range(12):
...     g.add_node(f"n{i}", kind="op", label="ReluBackward0", name="ReluBackward0", module=None)
...     if i:
...         g.add_edge(f"n{i}", f"n{i - 1}")
>>> small = collapse(g, max_nodes=4)
>>> [(n, d.get("repeat")) for n, d in small.nodes(data=True)]
[('loop0', 12)]
>>> small.nodes["loop0"]["label"]
'Relu ×12'
"""

from __future__ import annotations

from collections.abc import Sequence

from graphscope._gc import gc_paused
from graphscope.errors import UsageError
from graphscope.model import AutogradGraph
from graphscope.options import DEFAULT_MAX_NODES
from graphscope.overview.build import build, copy_graph
from graphscope.overview.drilldown import plan_drilldown, subgraph_for
from graphscope.overview.fitting import fit, needs_collapse
from graphscope.overview.grouping import Planner
from graphscope.overview.index import Index
from graphscope.overview.levels import Level, Levels, plan_levels

__all__ = [
    "collapse",
    "needs_collapse",
    "subgraph_for",
    "plan_drilldown",
    "plan_levels",
    "Level",
    "Levels",
]


def collapse(
    graph: AutogradGraph,
    *,
    max_nodes: int = DEFAULT_MAX_NODES,
    depth: int | None = None,
    expand: Sequence[str] = (),
) -> AutogradGraph:
    """A new graph of at most ``max_nodes`` nodes: modules collapsed, repeats folded.

    Returns an unchanged copy when ``graph`` already fits (see :func:`needs_collapse`).
    Deterministic: the same graph gives the same ids in the same order. Group ids are
    ``g:<module path>`` (``g:encoder.layers.0-5`` for a fold of siblings; a bundle of
    parameters is its module's group), ``loop0``, ``loop1``... for loops and ``part0``... for
    parts.
    """
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1:
        raise UsageError(f"max_nodes must be a positive int (got {max_nodes!r})")
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 0):
        raise UsageError(f"depth must be an int >= 0 or None (got {depth!r})")
    if isinstance(expand, str):
        expand = (expand,)
    expand = tuple(expand)
    if not needs_collapse(graph, max_nodes, depth, expand):
        return copy_graph(graph)
    with gc_paused():
        ix = Index(graph)
        planner = Planner(ix, expand)
        return build(ix, fit(planner, max_nodes, depth))
