"""The index a collapse works on: plain lists over node positions, built once per graph.

Positions are the nodes' places in ``graph.nodes`` (ids stay deterministic). Besides the
adjacency, the index says for every node:

* ``path``: the module path it belongs to, as a tuple (``("encoder", "layers", "0")``). An op's
  is its ``module``; a parameter's the module that owns it; a tensor with a producer op joins
  that op (``owner``); roots and ``boundary`` nodes (``fixed``) belong to none.
* ``order``: its place in forward order. Ops carry ``order`` (the tracer numbers them as the
  forward pass made them); a graph without it (built by hand) gets a topological order.
* whether it is a *leaf* (a tensor no op produced: a parameter, an input): leaves are not part
  of the step structure; they are attached to the group that holds all their consumers.
"""

from __future__ import annotations

import heapq
import re
from typing import Any

from graphscope.model import OP, TENSOR, AutogradGraph

__all__ = ["Index", "Path", "split", "natural"]

Path = tuple[str, ...]

_DIGITS = re.compile(r"\d+")


def split(path: str | None) -> Path:
    """``"encoder.layers.0"`` -> ``("encoder", "layers", "0")``; brackets stay in their part."""
    return tuple(path.split(".")) if path else ()


def natural(name: str) -> tuple[Any, ...]:
    """Sort key putting ``layers.2`` before ``layers.10``."""
    return tuple(
        (0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", name) if t
    )


def no_digits(text: str) -> str:
    """``layers.7.bias`` -> ``layers.#.bias``: what copies of one structure have in common."""
    return _DIGITS.sub("#", text)


class Index:
    """Positions, adjacency, paths, forward order and roles of one graph's nodes."""

    def __init__(self, graph: AutogradGraph) -> None:
        self.graph = graph
        self.ids: list[str] = list(graph.nodes)
        self.pos = {n: i for i, n in enumerate(self.ids)}
        self.data: list[dict[str, Any]] = [graph.nodes[n] for n in self.ids]
        pos = self.pos
        n = len(self.ids)
        self.succ: list[list[int]] = [[] for _ in range(n)]
        self.pred: list[list[int]] = [[] for _ in range(n)]
        for u, v in graph.edges():
            a, b = pos[u], pos[v]
            self.succ[a].append(b)
            self.pred[b].append(a)
        roots = set(graph.graph.get("roots") or ())
        self.fixed = [
            nid in roots or bool(d.get("boundary"))
            for nid, d in zip(self.ids, self.data, strict=True)
        ]
        self.is_op = [d.get("kind") == OP for d in self.data]
        self.owner = self._owners()
        self.leaf = [
            not self.fixed[i] and not self.is_op[i] and self.owner[i] == i for i in range(n)
        ]
        self.paths = self._paths()
        self.order = self._order()
        self.has_modules = any(p for i, p in enumerate(self.paths) if self.is_op[i])
        self.kinds: dict[int, list[str]] = {}
        for f in graph.findings:
            for node in f.marked:
                if node in pos:
                    self.kinds.setdefault(pos[node], []).append(f.kind)
        self._through: list[list[int]] | None = None

    def _owners(self) -> list[int]:
        """A tensor made by an op joins that op (its own position otherwise)."""
        owner = list(range(len(self.ids)))
        for i, d in enumerate(self.data):
            if self.fixed[i] or d.get("kind") != TENSOR:
                continue
            for u in self.pred[i]:
                if self.is_op[u]:
                    owner[i] = u
                    break
        return owner

    def _paths(self) -> list[Path]:
        paths: list[Path] = [()] * len(self.ids)
        for i, d in enumerate(self.data):
            if not self.fixed[i] and (self.is_op[i] or self.leaf[i]):
                paths[i] = split(d.get("module"))
        for i in range(len(self.ids)):
            o = self.owner[i]
            if o != i:
                paths[i] = paths[o]
        return paths

    def _order(self) -> list[float]:
        """Forward order: ops by their ``order``; a joined tensor just after its op; leaves
        and fixed nodes get their consumers' earliest place (they are never steps)."""
        n = len(self.ids)
        order = [0.0] * n
        have = all(isinstance(self.data[i].get("order"), int) for i in range(n) if self.is_op[i])
        if have:
            for i in range(n):
                if self.is_op[i]:
                    order[i] = float(self.data[i]["order"])
        else:
            for rank, i in enumerate(self._topological()):
                order[i] = float(rank)
        for i in range(n):
            o = self.owner[i]
            if o != i:
                order[i] = order[o] + 0.5
            elif not self.is_op[i]:
                consumers = [order[j] for j in self.succ[i] if self.is_op[j]]
                order[i] = min(consumers) - 0.25 if consumers else -1.0
        return order

    def _topological(self) -> list[int]:
        """The ops in a topological order of the data flow (a graph without ``order``); ties
        go to the op the loss-first walk met last, which the forward pass made first."""
        n = len(self.ids)
        ops = [i for i in range(n) if self.is_op[i]]
        indeg = {i: 0 for i in ops}
        preds: dict[int, list[int]] = {i: [] for i in ops}
        for i in ops:
            for j in self._op_succ(i):
                indeg[j] += 1
                preds[j].append(i)
        heap = [-i for i in ops if indeg[i] == 0]
        heapq.heapify(heap)
        out: list[int] = []
        while heap:
            i = -heapq.heappop(heap)
            out.append(i)
            for j in self._op_succ(i):
                indeg[j] -= 1
                if indeg[j] == 0:
                    heapq.heappush(heap, -j)
        if len(out) < len(ops):  # a cycle (never from autograd): keep the rest in walk order
            seen = set(out)
            out.extend(i for i in reversed(ops) if i not in seen)
        return out

    def _op_succ(self, i: int) -> list[int]:
        out = []
        for j in self.succ[i]:
            if self.is_op[j]:
                out.append(j)
            elif self.owner[j] == i:
                out.extend(k for k in self.succ[j] if self.is_op[k])
        return out

    def through(self) -> list[list[int]]:
        """Successors with the tensors an op made skipped: op -> op, op -> leaf edges as
        they are (the step structure is the ops', named tensors are decoration)."""
        if self._through is None:
            out: list[list[int]] = [[] for _ in self.ids]
            for i in range(len(self.ids)):
                if self.owner[i] != i:
                    continue
                for j in self.succ[i]:
                    if self.owner[j] == i and j != i:
                        out[i].extend(self.succ[j])
                    else:
                        out[i].append(j)
            self._through = out
        return self._through
