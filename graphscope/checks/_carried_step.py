"""An optimizer step that broke a recurrent model's kept graph: the ``saved-tensor-modified``
finding at the line that carries the state.

A language model that carries its hidden state from batch to batch without ``.detach()`` gets
"Trying to backward through the graph a second time" at its second batch; the usual answer,
``loss.backward(retain_graph=True)``, keeps the previous batch's graph for the next backward
call to go through. The optimizer's step between the two writes the weights that graph saved
(``lstm``'s ``weight_ih_l0``, ``weight_hh_l0``, ...), and the next backward raises "modified by
an inplace operation". Every saved weight is stale, but there is one cause: the carried state.
So all of them make one finding, at the line that carries the state (where
``h = h.detach()`` goes), naming the parameters, with the fix of ``graph-grows`` (the same cause
when the update bypasses the version counter and nothing raises): detach the state once per
batch and drop ``retain_graph=True``. Pure: reads the graph and the events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from graphscope.checks._common import optimizer_call
from graphscope.checks._step_between import step_at
from graphscope.model import (
    AutogradGraph,
    BackwardCall,
    Events,
    Finding,
    GraphCarry,
    InplaceWrite,
    Location,
    OptimizerStep,
)

__all__ = ["Carried", "carried_step", "carried_finding", "detach_hint", "and_listed"]

KIND = "saved-tensor-modified"


@dataclass(frozen=True)
class Carried:
    """The cause of a stale saved parameter: ``carry`` linked the graph that ``kept`` retained
    into ``then``'s, and ``step`` updated the parameter in between."""

    carry: GraphCarry
    kept: BackwardCall
    step: OptimizerStep
    then: BackwardCall


def carried_step(
    graph: AutogradGraph, write: InplaceWrite | None, events: Events
) -> Carried | None:
    """The cause when ``write`` was an optimizer step made after a backward call that kept its
    graph, and a later backward call through ``graph`` went back into that graph through a
    state carried across the step; else None."""
    if write is None or write.line is None:
        return None
    step = step_at(events, write)
    if step is None:
        return None
    calls = set(graph.graph.get("calls") or ())
    later = [c for c in events.backward if c.index in calls and c.index > step.after_call]
    kept = [c for c in events.backward if c.index <= step.after_call and c.retain_graph]
    if not later or not kept:
        return None
    first = kept[-1]
    into = {c.index for c in later}
    carries = [
        k
        for k in events.carries
        if k.into_call in into and k.after_call >= first.index and not k.same_site
    ]
    if not carries:
        return None
    carry = carries[0]
    then = next(c for c in later if c.index == carry.into_call)
    return Carried(carry, first, step, then)


def carried_finding(
    graph: AutogradGraph,
    cause: Carried,
    stale: Sequence[tuple[str, dict[str, Any], dict[str, Any]]],
) -> Finding:
    """One finding for every saved parameter ``cause`` made stale (``stale``: ``(node, node
    data, saved entry)`` of each, in graph order)."""
    carry, kept, step, then = cause.carry, cause.kept, cause.step, cause.then
    params, savers = stale_names(stale)
    state = carry.name or "the state carried from batch to batch"
    what = and_listed(params) if params else "the parameters"
    message = (
        f"{state} carries the previous batch's graph into the next one (line {carry.line}), "
        f"and {_call(kept)} at line {kept.line} keeps that graph for the next backward call; "
        f"{optimizer_call(step.name, step.optimizer)} at line {step.line} then updates {what} "
        "in place, which "
        f"{and_listed(savers)} saved for that old graph's backward, so the next backward call "
        f"(line {then.line}) cannot go through it."
    )
    related = [Location(kept.file, kept.line, "backward with retain_graph=True")]
    related.append(Location(step.file, step.line, "the step that updated the parameters"))
    if (then.file, then.line) != (kept.file, kept.line):
        related.append(Location(then.file, then.line, "backward raised here"))
    node = stale[0][0] if stale else None
    return Finding(
        kind=KIND,
        severity="error",
        message=message,
        hint=detach_hint(carry),
        file=carry.file,
        line=carry.line,
        node=node,
        graph=graph.graph.get("id") if node is not None else None,
        related=tuple(related),
        badge=f"old graph kept through {carry.name or 'the state'} (line {carry.line})",
    )


def stale_names(
    stale: Sequence[tuple[str, dict[str, Any], dict[str, Any]]],
) -> tuple[list[str], list[str]]:
    """The parameters a step made stale (their names, once each) and the ops that saved them
    (``mm at line 16``), in graph order, from ``(node, node data, saved entry)`` triples."""
    params = list(dict.fromkeys(str(e["tensor_name"]) for _, _, e in stale if e.get("tensor_name")))
    savers = list(
        dict.fromkeys(
            f"{d.get('op') or d.get('label') or 'an operation'} at line {d.get('line')}"
            for _, d, _ in stale
        )
    )
    return params, savers


def detach_hint(carry: GraphCarry, call: BackwardCall | None = None) -> str:
    """The fix for a carried state: detach it once per batch, drop ``retain_graph=True`` (from
    ``call``, shown as it should read: ``loss.backward()``, when it has one named root)."""
    var = carry.name
    if var is None:
        detach = "its .detach()"
    elif carry.in_tuple:
        detach = f"`{var} = tuple(t.detach() for t in {var})`"
    else:
        detach = f"`{var} = {var}.detach()`"
    roots = [r for r in call.roots if r != "?"] if call is not None else []
    plain = (
        f" (`{roots[0]}.backward()`)"
        if call is not None
        and call.api == "backward"
        and len(roots) == 1
        and roots[0].isidentifier()
        else ""
    )
    return (
        f"Detach the carried state once per batch, before it is used: {detach} (truncated "
        f"backpropagation through time), and drop retain_graph=True from the backward call{plain}."
    )


def and_listed(names: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _call(c: BackwardCall) -> str:
    named = [r for r in c.roots if r != "?"]
    root = named[0] if len(c.roots) == 1 and named else None
    keep = "retain_graph=True" if c.retain_graph else ""
    return f"{root}.backward({keep})" if root else "backward()"
