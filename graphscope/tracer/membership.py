"""Which module made each op: the one place ``watch()`` and ``trace()`` both get it from.

Every capture goes through :func:`assign_modules` (the walk calls it once, after numbering the
ops in forward order). The evidence, best first:

1. **Spans**, when the recorder ran the forward: its global forward pre/post hooks open and
   close a span of the autograd sequence counter around each module's call
   (:class:`graphscope.recorder.modules.ModuleSpans`), and an op belongs to the narrowest span
   holding its sequence number. The walk reads it through the capture's provenance while it
   visits the op (``nodes[n]["module"]``): exact, even for ops a module makes without reading a
   parameter, and for ops made outside every module (``None``).
2. **Inference**, for ``graphscope.trace()`` (after the forward, in a library or a notebook: no
   span was recorded) when no op has a module yet: from the parameters
   each op reads and the module tree (:mod:`graphscope.tracer.infer`, which lists what it
   cannot know after the fact). The graph says so: ``graph["modules_inferred"] = True``, and
   the pictures' caption says the modules were inferred.

Both name modules alike: a dotted path under the user's variable for the outermost module
(``model.2``, ``model.act``, ``heads.cls``), found by :func:`graphscope.names.module_name` for
the spans' root and for ``trace(params=model)``'s prefix; :func:`graphscope.model.spelled`
writes a path as the user's code does (``model[2]``, ``heads['cls']``) wherever it reaches text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from graphscope.tracer.infer import infer_modules

__all__ = ["assign_modules"]

Adjacency = tuple[Mapping[str, list[str]], Mapping[str, list[str]]]


def assign_modules(
    nodes: Mapping[str, dict[str, Any]],
    ops: Sequence[str],
    adjacency: Callable[[], Adjacency],
    classes: Mapping[str, str] | None,
    params_known: bool,
) -> bool:
    """Give each op of ``ops`` (node ids in forward order) its module: the spans' when any op
    has one already, else inferred (``adjacency()``: each node's successors and predecessors,
    asked for only then; ``params_known``: inference may run (no spans were recorded) and some
    parameter has a module). Returns whether the modules were inferred."""
    if not ops or not params_known:
        return False
    for n in ops:
        if nodes[n]["module"] is not None:
            return False  # the spans named them: ops without one ran outside every module
    succ, pred = adjacency()
    return infer_modules(nodes, ops, succ, pred, classes)
