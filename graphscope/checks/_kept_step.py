"""An optimizer step that wrote parameters a kept graph saved, before any backward call went
back through that graph: the ``saved-tensor-modified`` finding at the ``step()``, foreseen.

``loss.backward(retain_graph=True)`` keeps the graph for a later backward call (an
actor-critic's second loss, the next batch of a recurrent model whose state was not detached);
the optimizer's step after it writes the weights that graph saved, and that later call will
raise "modified by an inplace operation". The finding is made before the call raises: at the
step, seen by ``--pdb`` (:mod:`graphscope.watcher.stops`) on the graph traced there. One finding
for all the parameters the step made stale. Once the later call ran, the step is explained by
:mod:`graphscope.checks._step_between` (or :mod:`graphscope.checks._carried_step`) instead.
Pure: reads the graph and the events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from graphscope.checks._carried_step import and_listed, stale_names
from graphscope.checks._common import optimizer_call
from graphscope.checks._step_between import step_at
from graphscope.model import (
    AutogradGraph,
    BackwardCall,
    Events,
    Finding,
    InplaceWrite,
    Location,
    OptimizerStep,
)

__all__ = ["KeptStep", "kept_step", "kept_finding"]

KIND = "saved-tensor-modified"


@dataclass(frozen=True)
class KeptStep:
    """``step`` updated parameters that the graph ``kept`` retained still saves."""

    step: OptimizerStep
    kept: BackwardCall


def kept_step(graph: AutogradGraph, write: InplaceWrite | None, events: Events) -> KeptStep | None:
    """The cause when ``write`` was an optimizer step made after a backward call that kept its
    graph (the last call before the step: ``retain_graph=True``, not ``create_graph=True``),
    and no backward call through ``graph`` came after the step yet; else None."""
    if write is None or write.line is None:
        return None
    step = step_at(events, write)
    if step is None:
        return None
    calls = set(graph.graph.get("calls") or ())
    if any(c.index in calls and c.index > step.after_call for c in events.backward):
        return None
    last = [c for c in events.backward if c.index <= step.after_call]
    if not last or not last[-1].retain_graph or last[-1].create_graph:
        return None  # the graph was freed, or kept for its own higher-order use
    return KeptStep(step, last[-1])


def kept_finding(
    graph: AutogradGraph,
    cause: KeptStep,
    stale: Sequence[tuple[str, dict[str, Any], dict[str, Any]]],
) -> Finding:
    """One finding for every saved parameter ``cause`` made stale (``stale``: ``(node, node
    data, saved entry)`` of each, in graph order)."""
    step, kept = cause.step, cause.kept
    params, savers = stale_names(stale)
    what = and_listed(params) if params else "parameters"
    keep = _call(kept)
    message = (
        f"{optimizer_call(step.name, step.optimizer, start=True)} at line {step.line} updates "
        f"{what} in place, which "
        f"{and_listed(savers)} saved for the graph that {keep} at line {kept.line} kept: the next "
        "backward call that goes back through that graph will fail (torch: 'modified by an "
        "inplace operation')."
    )
    hint = (
        f"Make every backward call through that graph before the step at line {step.line} "
        "(both losses of one forward pass, then one step); if a tensor carries the graph into "
        "the next iteration (a recurrent state), detach it once per iteration (`h = h.detach()`) "
        "and drop retain_graph=True."
    )
    node = stale[0][0] if stale else None
    return Finding(
        kind=KIND,
        severity="error",
        message=message,
        hint=hint,
        file=step.file,
        line=step.line,
        node=node,
        graph=graph.graph.get("id") if node is not None else None,
        related=(Location(kept.file, kept.line, "backward with retain_graph=True"),),
        badge=f"updated by the step at line {step.line}",
    )


def _call(c: BackwardCall) -> str:
    if c.api == "grad":
        return "torch.autograd.grad(..., retain_graph=True)"
    named = [r for r in c.roots if r != "?"]
    root = named[0] if len(c.roots) == 1 and named else None
    return f"{root}.backward(retain_graph=True)" if root else "backward(retain_graph=True)"
