"""The findings of :mod:`graphscope.checks.graph_freed` for each cause it tells apart (see
:mod:`graphscope.checks._freed_why`): each sits at the line to change and names the fix."""

from __future__ import annotations

import re
from collections.abc import Sequence

import graphscope.checks._freed_why as why
from graphscope.checks._common import listed, optimizer_call, root_module
from graphscope.checks._rewrite import source_line
from graphscope.model import (
    AutogradGraph,
    BackwardCall,
    Finding,
    GraphCarry,
    Location,
    OptimizerStep,
)

KIND = "graph-freed"


def freer_elsewhere(c: BackwardCall, calls: Sequence[BackwardCall]) -> BackwardCall | None:
    """The last successful call before ``c`` into another graph that did not retain it: the
    first of two losses' backward calls through a trunk they share."""
    earlier = [
        b
        for b in calls
        if b.index < c.index and not b.retain_graph and b.error is None and b.graph != c.graph
    ]
    return earlier[-1] if earlier else None


def root_name(c: BackwardCall) -> str | None:
    named = [r for r in c.roots if r != "?"]
    return named[0] if len(c.roots) == 1 and named else None


def sum_fix(first: BackwardCall, then: BackwardCall) -> str:
    """One backward on the sum, or retain_graph=True on the first call, in the user's names."""
    a, b = root_name(first), root_name(then)
    if a and b and a != b and first.api == then.api == "backward":
        return (
            f"Call backward once, on the sum of the two losses: `({a} + {b}).backward()` in "
            f"place of both calls (the gradients add up as they did), or keep the graph for the "
            f"second call: `{a}.backward(retain_graph=True)` at line {first.line}."
        )
    return (
        f"Call backward once, on the sum of the losses, in place of the two calls; or pass "
        f"retain_graph=True to the first call (line {first.line})."
    )


def badge_text(freer: BackwardCall | None) -> str:
    if freer is not None and freer.line is not None:
        return f"freed by line {freer.line}"
    return "freed"


def two_losses(
    graph: AutogradGraph, c: BackwardCall, first: BackwardCall, node: str | None, gid: str | None
) -> Finding:
    """Two losses through a shared trunk, two backward calls: the first freed the trunk."""
    names, modules = why.shared_part(graph) if gid is not None else ((), ())
    parts = [f"`{n}`" for n in names[:3]] + [f"{m}" for m in modules[:3]]
    shared = f" ({', '.join(parts)})" if parts else ""
    other = root_name(first)
    with_ = f" with {other}" if other else ""
    message = (
        f"{call_text(c)} went back through the part of the graph it shares{with_}{shared}, whose "
        f"saved values {call_text(first)} at line {first.line} had already freed: two losses "
        "through one forward pass, each with its own backward call."
    )
    return Finding(
        kind=KIND,
        severity="error",
        message=message,
        hint=sum_fix(first, c),
        file=first.file,
        line=first.line,
        node=node,
        graph=gid if node is not None else None,
        related=(Location(c.file, c.line, "backward raised here"),),
        badge=badge_text(first),
    )


def one_step(
    graph: AutogradGraph,
    gid: str | None,
    c: BackwardCall,
    k: GraphCarry,
    first: BackwardCall,
    steps: Sequence[OptimizerStep],
) -> Finding:
    """A tensor two backward calls of one step go through; the first call freed it. A GAN when
    the step after the first call does not update the parameters behind it."""
    name = k.name or "the shared tensor"
    made = why.behind(graph, k.name) if gid is not None else None
    uses = why.uses_of(graph, made.node) if made is not None else []
    between = why.stepped_between(steps, first, c)
    related = (
        Location(first.file, first.line, f"went back through {name} and freed it"),
        Location(c.file, c.line, "backward raised here"),
    )
    if made is not None and made.params and between and not why.covered(between, made.params):
        use = graph.nodes[uses[0]] if uses else {}
        consumer = root_module(graph, str(use["module"])) if use.get("module") else ""
        callee = _callee(source_line(use.get("file"), use.get("line")), name)
        consumer = callee or consumer
        step = between[0]
        makers = ", ".join(made.modules) or "the modules behind it"
        message = (
            f"{call_text(first)} at line {first.line} went back through {name} into {makers} "
            f"({listed(made.params, 4)}) and freed that part of the graph, although the step "
            f"after it ({optimizer_call(step.name, step.optimizer)} at line {step.line}) does not update those "
            f"parameters; {call_text(c)} at line {c.line} then needed it again."
        )
        code = f"{consumer}({name}.detach())" if consumer else f"{name}.detach()"
        hint = (
            f"Detach {name} where the first loss uses it (line {use.get('line', first.line)}): "
            f"`{code}`, so that this loss trains {consumer or 'its own model'} only and "
            f"{call_text(c)} finds the graph of {name} intact. retain_graph=True would hide the "
            f"error but still run the first backward through {makers} for nothing."
        )
        return Finding(
            kind=KIND,
            severity="error",
            message=message,
            hint=hint,
            file=use.get("file", first.file),
            line=use.get("line", first.line),
            node=uses[0] if uses else None,
            graph=gid if uses else None,
            related=related,
            badge=f"{name} freed by line {first.line}",
        )
    message = (
        f"{call_text(c)} at line {c.line} went back through {name}, which {call_text(first)} at line "
        f"{first.line} had already gone through and freed: two losses of one step, each with "
        "its own backward call."
    )
    return Finding(
        kind=KIND,
        severity="error",
        message=message,
        hint=sum_fix(first, c),
        file=first.file,
        line=first.line,
        node=made.node if made is not None else None,
        graph=gid if made is not None else None,
        related=related[1:],
        badge=badge_text(first),
    )


def made_once(
    c: BackwardCall,
    k: GraphCarry,
    freer: BackwardCall | None,
    made: why.Behind,
    steps: Sequence[OptimizerStep],
    node: str | None,
    gid: str | None,
) -> Finding:
    """A tensor computed once before the loop and used by every iteration's loss."""
    name = k.name or "the tensor"
    at = f" at line {freer.line}" if freer is not None and freer.line is not None else ""
    message = (
        f"{call_text(c)} went back into the graph of {name}, which line {made.made_line} computed "
        f"once, before the loop, and every iteration uses (line {k.line}); the previous "
        f"iteration's backward call{at} had already freed it."
    )
    trained = [p for p in made.params if why.covered(steps, [p])]
    if trained:
        mods = ", ".join(made.modules) or listed(trained, 4)
        hint = (
            f"Compute {name} inside the loop, before line {k.line} uses it (move line "
            f"{made.made_line} into the loop): each iteration then builds its own graph, and "
            f"{mods} keeps training. `{name} = {name}.detach()` would stop the error but also "
            f"silently stop {listed(trained, 4)} from learning."
        )
    else:
        frozen = f" ({listed(made.params, 4)})" if made.params else ""
        hint = (
            f"No optimizer updates what {name} is computed from{frozen}: compute it once "
            f"without a graph, under `with torch.no_grad():` (line {made.made_line}), so every "
            "iteration reuses its values and backward stops there."
        )
    related = []
    if freer is not None:
        related.append(Location(freer.file, freer.line, f"freed the graph (call {freer.index})"))
    related.append(Location(c.file, c.line, "backward raised here"))
    return Finding(
        kind=KIND,
        severity="error",
        message=message,
        hint=hint,
        file=made.made_file or k.file,
        line=made.made_line,
        node=node,
        graph=gid if node is not None else None,
        related=tuple(related),
        badge=badge_text(freer),
    )


def loss_made_once(
    c: BackwardCall, freer: BackwardCall, made: why.Behind, node: str | None, gid: str | None
) -> Finding:
    """backward() in a loop on a loss computed once, before it: the loop's first iteration
    freed its graph."""
    loss = root_name(c) or "the loss"
    message = (
        f"{call_text(c)} at line {c.line} runs at every iteration, but {loss} is computed once, at "
        f"line {made.made_line}: the first iteration's backward call freed its graph."
    )
    hint = (
        f"Compute {loss} inside the loop, before line {c.line} (move line {made.made_line} into "
        "the loop), so that each iteration runs its own forward pass with the current weights."
    )
    return Finding(
        kind=KIND,
        severity="error",
        message=message,
        hint=hint,
        file=made.made_file or c.file,
        line=made.made_line,
        node=node,
        graph=gid if node is not None else None,
        related=(Location(c.file, c.line, "backward raised here"),),
        badge=badge_text(freer),
    )


def call_text(c: BackwardCall) -> str:
    if c.api == "grad":
        return "torch.autograd.grad()"
    named = [r for r in c.roots if r != "?"]
    return f"{named[0]}.backward()" if len(c.roots) == 1 and named else "backward()"


def _callee(text: str, name: str) -> str | None:
    """The callable the user's line hands ``name`` to, as written there (``self.D`` in
    ``self.D(fake).mean()``), or None."""
    if not name.isidentifier():
        return None
    m = re.search(rf"([A-Za-z_][\w.]*(?:\[[^\]]*\])*)\(\s*{name}\s*\)", text)
    return m.group(1) if m else None
