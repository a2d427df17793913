"""Where the memory goes: what each graph keeps saved for backward, by source line and by
module, and what ``torch.utils.checkpoint`` on a module would free. Pure (no torch): it reads
what the tracer recorded of each saved tensor (``graph.graph["storages"]``, each saved entry's
``storage``), counted the way the allocator sees it: each storage once.

* :mod:`~graphscope.memory.figures`: the storages, who saved them, rankings by line and module;
* :mod:`~graphscope.memory.advice`: checkpointing advice per module and per repeated block;
* :mod:`~graphscope.memory.text`: the report's table and JSON section.

>>> from graphscope.model import AutogradGraph
>>> g = AutogradGraph()
>>> g.graph["storages"] = [(4096, "activation", "n1", 0), (512, "param", None, None)]
>>> g.add_node("n1", kind="op", label="ExpBackward0", file="t.py", line=3, order=0,
...            saved=[{"name": "result", "storage": 0}])
>>> g.add_node("n2", kind="op", label="MmBackward0", file="t.py", line=4, order=1,
...            saved=[{"name": "self", "storage": 0}, {"name": "mat2", "storage": 1}])
>>> m = graph_memory(g)
>>> m.saved_bytes, m.activation_bytes, [(r.line, r.bytes) for r in m.by_line]
(4608, 4096, [(3, 4096)])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from graphscope.memory.advice import Checkpoint, checkpoint_advice
from graphscope.memory.figures import (
    LineBytes,
    ModuleBytes,
    by_line,
    by_module,
    fmt_bytes,
    holding,
    holds_totals,
    node_bytes,
    percent,
)
from graphscope.model import HOLDS_ACTIVATION, HOLDS_INPUT, HOLDS_PARAM, AutogradGraph

__all__ = [
    "Checkpoint",
    "GraphMemory",
    "LineBytes",
    "ModuleBytes",
    "RunMemory",
    "fmt_bytes",
    "graph_memory",
    "node_bytes_of",
    "percent",
    "run_memory",
]


@dataclass(frozen=True)
class GraphMemory:
    """What one distinct graph held for backward at its backward call."""

    graph: str  # its id (``g1``)
    calls: tuple[int, ...]  # the backward calls it stands for
    saved_bytes: int  # every storage saved, once
    activation_bytes: int
    param_bytes: int
    input_bytes: int
    by_line: tuple[LineBytes, ...]
    by_module: tuple[ModuleBytes, ...]
    checkpoint: tuple[Checkpoint, ...]


@dataclass(frozen=True)
class RunMemory:
    """Every graph's figures, and the peak over the run."""

    graphs: tuple[GraphMemory, ...]  # in the order of their first backward call

    @property
    def peak(self) -> GraphMemory | None:
        """The graph that held the most (the first of equals)."""
        best = None
        for g in self.graphs:
            if best is None or g.saved_bytes > best.saved_bytes:
                best = g
        return best


def graph_memory(graph: AutogradGraph) -> GraphMemory | None:
    """The figures of one graph; None when its capture recorded no storage."""
    h = holding(graph)
    if h is None:
        return None
    totals = holds_totals(h)
    return GraphMemory(
        graph=str(graph.graph.get("id") or "g1"),
        calls=tuple(int(c) for c in graph.graph.get("calls") or ()),
        saved_bytes=h.total(),
        activation_bytes=totals[HOLDS_ACTIVATION],
        param_bytes=totals[HOLDS_PARAM],
        input_bytes=totals[HOLDS_INPUT],
        by_line=tuple(by_line(graph, h)),
        by_module=tuple(by_module(graph, h)),
        checkpoint=tuple(checkpoint_advice(graph, h)),
    )


def run_memory(graphs: Sequence[AutogradGraph]) -> RunMemory | None:
    """The figures of every graph that has them; None when none has."""
    found = [m for m in (graph_memory(g) for g in graphs) if m is not None]
    if not found:
        return None
    found.sort(key=lambda m: (m.calls[0] if m.calls else 0, m.graph))
    return RunMemory(tuple(found))


def node_bytes_of(graph: AutogradGraph) -> dict[str, int] | None:
    """Bytes each op saved first (each storage once): the explorer's memory colouring. None
    when the capture recorded no storage (then the explorer counts shapes)."""
    h = holding(graph)
    return None if h is None else node_bytes(h)
