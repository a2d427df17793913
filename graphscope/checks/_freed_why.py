"""Why a graph was already freed: what :mod:`graphscope.checks.graph_freed` reads in a graph.

A backward call that goes back into a freed graph has one of four causes, and each has its own
fix (the one the finding's hint names):

* **a recurrent state** carried from batch to batch (``out, h = rnn(x, h)``): the statement that
  made the carried tensor ran again in the failing graph (its freed ops and its fresh ops share
  a line). Fix: detach it once per batch.
* **a tensor computed once, before the loop** (``feats = embed(tokens)``) and used by every
  iteration's loss: the same backward statement freed it in the previous iteration, and nothing
  made it again. Fix: compute it inside the loop when an optimizer steps the parameters behind
  it (``.detach()`` would silently stop them from training), else detach it.
* **a tensor shared by two losses of one step, the first of which should not reach it**: a GAN
  whose discriminator loss uses ``D(fake)`` without ``.detach()`` runs backward into G, frees
  G's graph, and the step after it (the discriminator's optimizer) does not even update G's
  parameters. Fix: ``D(fake.detach())`` where the first loss uses it.
* **two losses through a shared trunk, two backward calls**: the first call freed what the
  second needs. Fix: one backward on the sum (or ``retain_graph=True`` on the first).

The helpers here read one captured graph: which of its tensors and ops are behind a named
tensor, which ops are freed, which lines made them. Pure: :mod:`graphscope.model` only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from graphscope.checks._common import root_module
from graphscope.model import (
    OP,
    ROLE_PARAM,
    TENSOR,
    AutogradGraph,
    BackwardCall,
    GraphCarry,
    OptimizerStep,
)

__all__ = ["Behind", "behind", "recurrent", "stepped_between", "uses_of", "shared_part"]


@dataclass(frozen=True)
class Behind:
    """The part of a graph a named tensor was computed from."""

    node: str  # the tensor node
    made_line: int | None  # the line of the op that produced it
    made_file: str | None
    made_module: str | None  # the module path of that op (``embed``), when in one
    modules: tuple[str, ...]  # root module names of the ops behind it (``G``)
    params: tuple[str, ...]  # names of the parameters behind it


def behind(graph: AutogradGraph, name: str | None) -> Behind | None:
    """What ``name`` (a tensor node of ``graph``) was computed from, or None if not there."""
    if not name:
        return None
    node = graph.by_name(name)
    if node is None or graph.nodes[node].get("kind") != TENSOR:
        return None
    up = _ancestors(graph, node)
    makers = [p for p in graph.predecessors(node) if graph.nodes[p].get("kind") == OP]
    made = graph.nodes[makers[0]] if makers else {}
    params = sorted(
        str(graph.nodes[n].get("name"))
        for n in up
        if graph.nodes[n].get("role") == ROLE_PARAM and graph.nodes[n].get("name")
    )
    modules = sorted(
        {
            root_module(graph, str(graph.nodes[n]["module"]))
            for n in up
            if graph.nodes[n].get("kind") == OP and graph.nodes[n].get("module")
        }
    )
    return Behind(
        node,
        made.get("line"),
        made.get("file"),
        made.get("module"),
        tuple(modules),
        tuple(dict.fromkeys(params)),
    )


def _ancestors(graph: AutogradGraph, node: str) -> set[str]:
    """The nodes ``node`` was computed from (edges point the way data flows)."""
    seen: set[str] = set()
    todo = [node]
    while todo:
        for p in graph.predecessors(todo.pop()):
            if p not in seen:
                seen.add(p)
                todo.append(p)
    return seen


def uses_of(graph: AutogradGraph, node: str) -> list[str]:
    """The op nodes that take the tensor ``node`` as an input, first made first."""
    ops = [s for s in graph.successors(node) if graph.nodes[s].get("kind") == OP]
    return sorted(ops, key=lambda n: (graph.nodes[n].get("order", 0), n))


def recurrent(graph: AutogradGraph, carry: GraphCarry, made: Behind | None) -> bool:
    """Is the carried tensor a recurrent state, made anew each batch from the previous one?

    Yes when a statement that made the freed part of ``graph`` ran again in its fresh part;
    when the op that made it ran on the line that carries it, or in the module that takes it
    (``out, h = rnn(x, h)``); and when nothing says otherwise. No for a tensor made elsewhere
    (``feats = embed(tokens)`` before the loop, ``clf(feats)`` inside it)."""
    again = _ran_again(graph)
    if again is not None:
        return again
    if made is None or made.made_line is None:
        return True
    if (made.made_file, made.made_line) == (carry.file, carry.line):
        return True
    mine = root_module(graph, made.made_module) if made.made_module else None
    return (
        mine is not None and carry.module is not None and mine == root_module(graph, carry.module)
    )


def _ran_again(graph: AutogradGraph) -> bool | None:
    """Did a statement that made the freed part of ``graph`` run again in its fresh part?
    None when no op of it is freed (or their lines are not known)."""
    freed: set[tuple[object, object]] = set()
    fresh: set[tuple[object, object]] = set()
    for n in graph.op_nodes():
        d = graph.nodes[n]
        saved = d.get("saved") or ()
        if d.get("line") is None or not saved:  # an op that saves nothing is never freed
            continue
        (freed if d.get("freed") else fresh).add((d.get("file"), d.get("line")))
    if not freed or not fresh:  # nothing freed, or a graph captured after its own backward
        return None
    return bool(freed & fresh)


def shared_part(graph: AutogradGraph) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Names of the tensors whose producing op is freed, and root modules of the freed ops."""
    names: list[str] = []
    modules: set[str] = set()
    for n in graph.op_nodes():
        d = graph.nodes[n]
        if not d.get("freed"):
            continue
        if d.get("module"):
            modules.add(root_module(graph, str(d["module"])))
        for s in graph.successors(n):
            sd = graph.nodes[s]
            if sd.get("kind") == TENSOR and sd.get("name") and sd.get("role") != ROLE_PARAM:
                names.append(str(sd["name"]))
    return tuple(dict.fromkeys(names)), tuple(sorted(modules))


def stepped_between(
    steps: Iterable[OptimizerStep], first: BackwardCall, then: BackwardCall
) -> list[OptimizerStep]:
    """The optimizer steps made after call ``first`` and before call ``then``."""
    return [s for s in steps if first.index <= s.after_call < then.index]


def covered(steps: Iterable[OptimizerStep], params: Sequence[str]) -> bool:
    """Does any of ``steps`` update one of ``params``?"""
    names = set(params)
    return any(names & set(s.params) for s in steps)
