"""The page's memory tab: what the graph holds saved for backward, ranked (``D.memory``).

The figures are :mod:`graphscope.memory`'s (each storage once); here they become rows the page
lists, each with the index of the node it opens: the op that saved the line's (or module's)
largest storage, or a checkpoint candidate's first op.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphscope.memory import graph_memory
from graphscope.model import AutogradGraph

__all__ = ["memory_data", "ROWS"]

ROWS = 20  # rows of each ranking on the page


def memory_data(graph: AutogradGraph, index: Mapping[str, int]) -> dict[str, Any] | None:
    """``{"saved", "activation", "param", "input", "lines", "modules", "checkpoint"}`` for the
    page, rows as ``[file, line, bytes, node, module, ops]``, ``[module, bytes, node]`` and
    ``[module, frees, recompute ops, node, count]``; None when the capture recorded nothing."""
    m = graph_memory(graph)
    if m is None:
        return None

    def at(nid: str) -> int:
        return index.get(nid, -1)

    def name(module: str | None) -> str | None:  # as the user writes it: ``model[2]``
        return graph.spelled(module) if module else None

    return {
        "saved": m.saved_bytes,
        "activation": m.activation_bytes,
        "param": m.param_bytes,
        "input": m.input_bytes,
        "lines": [
            [r.file, r.line, r.bytes, at(r.node), name(r.module), list(r.ops[:3])]
            for r in m.by_line[:ROWS]
        ],
        "modules": [[name(r.module), r.bytes, at(r.node)] for r in m.by_module[:ROWS]],
        "checkpoint": [
            [name(c.module), c.frees_bytes, c.recompute_ops, at(c.node), len(c.members)]
            for c in m.checkpoint[:ROWS]
        ],
    }
