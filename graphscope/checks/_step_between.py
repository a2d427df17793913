"""A saved parameter that an optimizer step updated between two backward calls through one
graph: the ``saved-tensor-modified`` finding at the ``step()``.

An actor-critic computes both losses from one forward pass, calls
``critic_loss.backward(retain_graph=True)``, then ``opt_c.step()``, then
``actor_loss.backward()``: the step wrote the critic's weights in place, and the second
backward needs them as they were when the forward pass saved them. The line to change is the
step (the write torch complains about happened inside it); the fix is to make both backward
calls before the step, or, when the second loss should not train what the step updates, to cut
it off with ``.detach()`` at the tensor where that loss enters the shared part (an
actor-critic's ``advantage``). Pure: reads the graph and the events.
"""

from __future__ import annotations

from typing import Any

from graphscope.checks._common import optimizer_call
from graphscope.model import (
    OP,
    TENSOR,
    AutogradGraph,
    BackwardCall,
    Events,
    Finding,
    InplaceWrite,
    Location,
    OptimizerStep,
)

__all__ = ["step_between", "step_at"]

KIND = "saved-tensor-modified"


def step_between(
    graph: AutogradGraph,
    node: str,
    d: dict[str, Any],
    entry: dict[str, Any],
    write: InplaceWrite | None,
    events: Events,
) -> Finding | None:
    """The finding when ``write`` was an optimizer step made between a backward call that kept
    the graph (``retain_graph=True``) and a later call through it; else None."""
    if write is None or write.line is None:
        return None
    step = step_at(events, write)
    calls = set(graph.graph.get("calls") or ())
    later = (
        [c for c in events.backward if c.index in calls and c.index > step.after_call]
        if step
        else []
    )
    if step is None or not later:
        return None
    kept = [c for c in events.backward if c.index <= step.after_call and c.retain_graph]
    if not kept:
        return None
    first, then = kept[-1], later[0]
    param = entry.get("tensor_name") or write.name or "a parameter"
    saver = f"{d.get('op') or d.get('label') or 'an operation'} at line {d.get('line')}"
    message = (
        f"{optimizer_call(step.name, step.optimizer, start=True)} at line {step.line} updated "
        f"{param} in place between "
        f"{_call(first)} at line {first.line} and {_call(then)} at line {then.line}, which goes "
        f"through the same forward pass and needs {param} as {saver} saved it."
    )
    cut = _entry_point(graph, node, then)
    detach = (
        f"; or, if {_root(then) or 'the second loss'} should not train what the step updates "
        f"(an actor-critic's advantage), cut it off where it enters the shared part: "
        f"`{cut}.detach()`"
        if cut
        else ""
    )
    hint = (
        f"Make both backward calls before the step: move the step at line {step.line} below "
        f"{_call(then)} (line {then.line}){detach}."
    )
    return Finding(
        kind=KIND,
        severity="error",
        message=message,
        hint=hint,
        file=step.file,
        line=step.line,
        node=node,
        graph=graph.graph.get("id"),
        related=(
            Location(first.file, first.line, "first backward call (kept the graph)"),
            Location(then.file, then.line, "backward raised here"),
        ),
        badge=f"updated by the step at line {step.line}",
    )


def step_at(events: Events, write: InplaceWrite) -> OptimizerStep | None:
    """The optimizer step made at the write's line (writes inside ``step()`` carry its line)."""
    for s in events.steps:
        if (s.file, s.line) == (write.file, write.line):
            return s
    return None


def _entry_point(graph: AutogradGraph, node: str, then: BackwardCall) -> str | None:
    """The named tensor nearest the second loss on its way down to ``node`` (the op that saved
    the parameter): where that loss enters the part of the graph both losses share."""
    below: set[str] = set()
    todo = [node]
    while todo:
        for s in graph.successors(todo.pop()):
            if s not in below:
                below.add(s)
                todo.append(s)
    best: tuple[int, str] | None = None
    for n in below:
        data = graph.nodes[n]
        if data.get("kind") != TENSOR or data.get("role") != "named" or not data.get("name"):
            continue
        makers = [p for p in graph.predecessors(n) if graph.nodes[p].get("kind") == OP]
        order = max((int(graph.nodes[p].get("order") or 0) for p in makers), default=-1)
        if best is None or order > best[0]:
            best = (order, str(data["name"]))
    return best[1] if best else None


def _root(c: BackwardCall) -> str | None:
    named = [r for r in c.roots if r != "?"]
    return named[0] if len(c.roots) == 1 and named else None


def _call(c: BackwardCall) -> str:
    root = _root(c)
    keep = "retain_graph=True" if c.retain_graph else ""
    return f"{root}.backward({keep})" if root else "backward()"
