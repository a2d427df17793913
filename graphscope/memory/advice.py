"""What ``torch.utils.checkpoint`` on a module would free, and what it would cost.

Checkpointing a module keeps its inputs instead of what its ops save, and runs its forward ops
again during backward. So for a set ``I`` of ops (a module's, with its submodules'):

* before, backward holds every activation storage saved by any op;
* after, it holds the ones saved by an op outside ``I``, plus the tensors flowing into ``I``
  from the ops outside it (its *boundary*: what checkpoint saves);
* it frees the difference: the storages saved only inside ``I``, less the boundary tensors that
  nothing outside saves.

A boundary tensor's storage is known when some op saved it (or a view of it, or the tensor it
views): the tracer records which op made each storage; views share their base's. Otherwise its
bytes come from the edge's shape and dtype. A repeated block (``blocks.0`` ... ``blocks.11``,
the same class) is also advised as one: each of them checkpointed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from graphscope.memory.figures import Holding
from graphscope.model import HOLDS_ACTIVATION, OP, TENSOR, AutogradGraph

__all__ = ["Checkpoint", "checkpoint_advice", "frees"]

#: candidates looked at (the modules holding most, then the repeated blocks)
MAX_MODULES = 64
MAX_GROUPS = 16

#: backward nodes whose output shares its input's storage (views)
_VIEW_OPS = re.compile(
    r"(View|UnsafeView|T|Transpose|Permute|Expand|Select|Slice|Unsqueeze|Squeeze|AsStrided|"
    r"Alias|Split|SplitWithSizes|Unbind|Narrow|Diagonal|ReshapeAlias|Unfold|ViewAsReal|"
    r"ViewAsComplex|Chunk|Detach)Backward\d*$"
)
#: modules without a forward of their own: nothing to wrap in checkpoint
_CONTAINERS = ("ModuleList", "ModuleDict", "ParameterList", "ParameterDict")
_DIGITS = re.compile(r"\d+")
#: bytes per element of a dtype (a boundary tensor no op saved; the explorer's memory overlay)
ITEMSIZE: Mapping[str, int] = {
    "float64": 8,
    "float32": 4,
    "float16": 2,
    "bfloat16": 2,
    "complex128": 16,
    "complex64": 8,
    "int64": 8,
    "int32": 4,
    "int16": 2,
    "int8": 1,
    "uint8": 1,
    "bool": 1,
}


@dataclass(frozen=True)
class Checkpoint:
    """Checkpointing ``module`` (or, for a repeated block, each of ``members``)."""

    module: str  # a module path, or a repeated block's pattern: ``blocks.*.attn``
    frees_bytes: int
    recompute_ops: int  # forward ops run again during backward
    node: str  # its first op in forward order
    members: tuple[str, ...]  # the modules checkpointed (one, or the repeated blocks)


class _Graph:
    """What the advice reads of a graph, computed once."""

    def __init__(self, graph: AutogradGraph, h: Holding) -> None:
        self.h = h
        nodes = graph.nodes
        self.ops = {n: d.get("module") for n, d in nodes(data=True) if d.get("kind") == OP}
        self.order = {n: nodes[n].get("order", 0) for n in self.ops}
        #: a named tensor node stands for the op that made it
        self.maker: dict[str, tuple[str, int] | None] = {}
        for n, d in nodes(data=True):
            if d.get("kind") != TENSOR:
                continue
            made = None
            if d.get("role") not in ("param", "leaf"):
                for p in graph.predecessors(n):
                    if p in self.ops:
                        made = (p, int(graph.edges[p, n].get("output_nr") or 0))
                        break
            self.maker[n] = made
        #: each op's inputs: [(producer op, output_nr, bytes if no op saved it)]
        self.inputs: dict[str, list[tuple[str, int, int]]] = {}
        for u, v, e in graph.edges(data=True):
            if v not in self.ops:
                continue
            if u in self.ops:
                src: tuple[str, int] | None = (u, int(e.get("output_nr") or 0))
            else:
                src = self.maker.get(u)
            if src is not None:
                self.inputs.setdefault(v, []).append((src[0], src[1], _edge_bytes(e)))
        self.storage_at = _storages_by_output(graph, h, self.ops, self.maker)
        #: each op's activation storages
        self.saved_by: dict[str, list[int]] = {}
        for k in h.activations():
            for n in h.savers[k]:
                self.saved_by.setdefault(n, []).append(k)


def frees(g: _Graph, inside: set[str]) -> int:
    """Bytes checkpointing the ops ``inside`` would free (see the module doc). Reads only
    the storages those ops saved and the edges into them."""
    h = g.h
    freed = 0
    held_outside: set[int] = set()
    seen: set[int] = set()
    kept_known: set[int] = set()
    kept_unknown: dict[tuple[str, int], int] = {}
    for n in inside:
        for k in g.saved_by.get(n, ()):
            if k in seen:
                continue
            seen.add(k)
            if all(s in inside for s in h.savers[k]):
                freed += h.bytes[k]
            else:
                held_outside.add(k)
        for src, nr, nbytes in g.inputs.get(n, ()):
            if src in inside:
                continue
            known = g.storage_at.get((src, nr))
            if known is None:
                kept_unknown[(src, nr)] = nbytes
            elif h.holds[known] == HOLDS_ACTIVATION:
                kept_known.add(known)
    # a boundary tensor some op outside saves is held anyway (a storage is known only when
    # some op saved it: not inside, so outside)
    kept = sum(h.bytes[k] for k in kept_known if k in seen and k not in held_outside)
    return freed - kept - sum(kept_unknown.values())


def checkpoint_advice(graph: AutogradGraph, h: Holding) -> list[Checkpoint]:
    """The modules (and repeated blocks) worth checkpointing, most bytes freed first; only
    those that free something."""
    g = _Graph(graph, h)
    members: dict[str, list[str]] = {}  # module path -> its ops and its submodules' ops
    for n, m in g.ops.items():
        for p in _ancestors(m):
            members.setdefault(p, []).append(n)
    if not members:
        return []
    holding = _inclusive_bytes(graph, h)
    classes = graph.graph.get("modules") or {}
    paths = [p for p in members if not _whole_model(p, members) and _callable(p, classes)]
    paths.sort(key=lambda p: (-holding.get(p, 0), p))
    out = []
    for p in paths[:MAX_MODULES]:
        inside = set(members[p])
        out.append(_advice(g, p, inside, (p,)))
    for pattern, group in _repeated(paths, classes)[:MAX_GROUPS]:
        inside = {n for p in group for n in members[p]}
        out.append(_advice(g, pattern, inside, tuple(group)))
    out = [c for c in out if c.frees_bytes > 0]
    out.sort(key=lambda c: (-c.frees_bytes, c.recompute_ops, c.module))
    return out


def _advice(g: _Graph, name: str, inside: set[str], group: tuple[str, ...]) -> Checkpoint:
    first = min(inside, key=lambda n: (g.order.get(n, 0), n))
    return Checkpoint(name, frees(g, inside), len(inside), first, group)


def _callable(path: str, classes: Mapping[str, Any]) -> bool:
    """A module checkpoint can wrap: one that ran (when the recorder says which did), not a
    container without a forward (``blocks`` of ``blocks.3``, a ModuleList)."""
    if classes and path not in classes:
        return False
    return (classes.get(path) or {}).get("cls") not in _CONTAINERS


def _ancestors(module: str | None) -> list[str]:
    """``blocks.3.attn`` -> ``["blocks", "blocks.3", "blocks.3.attn"]``."""
    if not module:
        return []
    parts = module.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _whole_model(path: str, members: Mapping[str, list[str]]) -> bool:
    """An outermost module with submodules: checkpointing all of it recomputes the whole
    forward; its parts are the advice."""
    if "." in path:
        return False
    return any(p.startswith(path + ".") for p in members)


def _repeated(paths: Iterable[str], classes: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    """Sibling modules that differ only by an index (``blocks.0.attn``, ``blocks.1.attn``),
    of one class when known: ``[(pattern, [paths...])]``, the largest groups first."""
    groups: dict[tuple[str, str], list[str]] = {}
    for p in paths:
        pattern = ".".join(_DIGITS.sub("*", c) if _indexed(c) else c for c in p.split("."))
        if pattern == p:
            continue
        cls = str((classes.get(p) or {}).get("cls") or "")
        groups.setdefault((pattern, cls), []).append(p)
    found = [(pat, sorted(ps, key=_natural)) for (pat, _), ps in groups.items() if len(ps) > 1]
    found.sort(key=lambda x: (-len(x[1]), x[0]))
    return found


def _indexed(component: str) -> bool:
    """``3`` or ``blocks[3]``: a component that names one of a list of modules."""
    return component.isdigit() or bool(re.fullmatch(r"[^\[\]]*\[\d+\]", component))


def _natural(path: str) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path)]


def _inclusive_bytes(graph: AutogradGraph, h: Holding) -> dict[str, int]:
    """Activation bytes first saved by each module's ops and its submodules'."""
    out: dict[str, int] = {}
    for k in h.activations():
        for p in _ancestors(graph.nodes[h.owner[k]].get("module")):
            out[p] = out.get(p, 0) + h.bytes[k]
    return out


def _storages_by_output(
    graph: AutogradGraph,
    h: Holding,
    ops: Mapping[str, Any],
    maker: Mapping[str, tuple[str, int] | None],
) -> dict[tuple[str, int], int]:
    """``(op, output_nr) -> storage index`` for the outputs whose storage is known: the
    producer the tracer recorded, carried through view ops both ways."""
    at: dict[tuple[str, int], int] = {}
    for k, made in enumerate(h.producer):
        if made is not None:
            at.setdefault(made, k)
    views = []
    for n in ops:
        if _VIEW_OPS.match(str(graph.nodes[n].get("label") or "")):
            src = None
            for u in graph.predecessors(n):
                if u in ops:
                    src = (u, int(graph.edges[u, n].get("output_nr") or 0))
                else:
                    src = maker.get(u)
                break
            if src is not None:
                views.append((src, n))
    for _ in range(8):  # a chain of views: a few rounds carry a storage all along it
        changed = False
        for src, n in views:
            outs = [(n, i) for i in range(4) if (n, i) in at]
            found = at.get(src, at[outs[0]] if outs else None)
            if found is None:
                continue
            for key in [src, (n, 0), *outs]:
                if key not in at:
                    at[key] = found
                    changed = True
        if not changed:
            break
    return at


def _edge_bytes(e: Mapping[str, Any]) -> int:
    shape = e.get("shape")
    if not shape:
        return 0
    return math.prod(int(s) for s in shape) * ITEMSIZE.get(str(e.get("dtype")), 4)
