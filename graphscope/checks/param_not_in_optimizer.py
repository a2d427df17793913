"""param-not-in-optimizer: a parameter received gradients but no optimizer step covers it.

Reads the graphs and ``events.steps``: a parameter reached by a ``backward()`` call (it got a
``.grad``) whose name no recorded optimizer step lists, while optimizer steps were made. The
classic is a module replaced or created after ``optimizer = ...(model.parameters())``: the
optimizer holds the old parameters, and the new ones never change. A parameter with
``requires_grad=False`` is never reached, and a program with no optimizer at all (hand-written
updates) has no steps: neither is a finding. Nor is a script that raised while an optimizer it
built (``events.built``) had not made its first step: that optimizer may hold them.

One finding per graph, listing the parameters and their modules; the line is where the optimizer
was built (when seen), else its first step.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphscope.checks._common import listed, optimizer_call, optimizer_text
from graphscope.model import (
    ROLE_PARAM,
    TENSOR,
    AutogradGraph,
    BackwardCall,
    Events,
    Finding,
    Location,
    OptimizerStep,
)

KIND = "param-not-in-optimizer"


def check(graph: AutogradGraph, events: Events) -> Iterator[Finding]:
    """One finding for the parameters of ``graph`` that no optimizer step updates."""
    steps = [s for s in events.steps if s.params]
    if not steps or _stopped_before_a_first_step(events):
        return
    calls = set(graph.graph.get("calls") or ())
    backward = [c for c in events.backward if c.index in calls and c.api == "backward"]
    if not backward or any(c.error for c in backward) and len(backward) == 1:
        return
    covered = {n for s in steps for n in s.params}
    missing: list[tuple[str, str]] = []  # (node, name)
    for node, d in graph.nodes(data=True):
        if d.get("kind") != TENSOR or d.get("role") != ROLE_PARAM or not d.get("reached", True):
            continue
        names = {d.get("name"), *(d.get("aliases") or ())} - {None}
        if names and not names & covered:
            missing.append((node, str(d.get("name") or sorted(names)[0])))
    if missing:
        yield _finding(graph, missing, steps[0], backward[0])


def _stopped_before_a_first_step(events: Events) -> bool:
    """Did the script raise while an optimizer it built had not stepped yet? (A GAN that fails
    in its generator's backward: ``opt_g`` holds the parameters no step has covered.)"""
    if events.error is None:
        return False
    stepped = {s.optimizer_id for s in events.steps}
    return len(events.built) > len(stepped)


def _finding(
    graph: AutogradGraph,
    missing: list[tuple[str, str]],
    step: OptimizerStep,
    call: BackwardCall,
) -> Finding:
    names = [n for _, n in missing]
    paths = sorted({m for node, _ in missing if (m := graph.nodes[node].get("module"))})
    modules = [graph.spelled(p) for p in paths]
    of = f" (of {', '.join(modules)})" if modules else ""
    one = len(names) == 1
    them, they = ("it", "it never changes") if one else ("them", "they never change")
    built = f", built at line {step.built_line}," if step.built_line is not None else ""
    opt = f"{step.name} ({step.optimizer})" if step.name else optimizer_text(None, step.optimizer)
    message = (
        f"{listed(names)}{of} received gradients from the backward call at line {call.line}, but no "
        f"optimizer step updates {them}: {opt}{built} holds other parameters, "
        f"so {they} (was the module replaced or created after the optimizer was built?)."
    )
    group = f'add_param_group({{"params": {_parameters(graph, paths)}}})'
    add = (
        f"add the new parameters to it: `{step.name}.{group}`"
        if step.name
        else f"add the new parameters to it with its {group}"
    )
    hint = (
        "Build the optimizer after the model is complete (after replacing or adding modules), or "
        f"{add}."
    )
    stays = f"{optimizer_call(step.name, step.optimizer)} leaves {them} unchanged"
    related = [Location(step.file, step.line, stays)]
    related.append(Location(call.file, call.line, "gave them gradients"))
    file, line = (
        (step.built_file, step.built_line)
        if step.built_line is not None
        else (
            step.file,
            step.line,
        )
    )
    return Finding(
        kind=KIND,
        severity="warning",
        message=message,
        hint=hint,
        file=file,
        line=line,
        node=missing[0][0],
        nodes=tuple(node for node, _ in missing),
        graph=graph.graph.get("id"),
        related=tuple(related),
        badge="not in any optimizer",
    )


def _parameters(graph: AutogradGraph, paths: list[str]) -> str:
    """``model[2].parameters()``: Python for the parameters of the modules ``paths``; a root
    the user's code does not hold (named after its class) reads ``<model>``."""
    parts = []
    for path in paths:
        top = path.split(".")[0].split("#")[0]
        if graph.module_class(path.split(".")[0]) == top:  # a class-name fallback, no variable
            path = "<model>" + path[len(path.split(".")[0]) :]
        parts.append(f"{graph.spelled(path)}.parameters()")
    if len(parts) == 1:
        return parts[0]
    return (
        "[" + ", ".join(f"*{p}" for p in parts) + "]" if parts else "<the new module>.parameters()"
    )
