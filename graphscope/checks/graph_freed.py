"""graph-freed: backward through a graph whose saved values an earlier backward freed.

Reads ``events.backward``: a call that raised "Trying to backward through the graph a second
time". The finding names the cause and sits at the line to change; the failing call is
``related``. The causes (told apart in :mod:`graphscope.checks._freed_why`):

* a tensor carried from before the previous backward call (a
  :class:`~graphscope.model.GraphCarry` recorded between the previous call and the failing one):
  - a recurrent state (``out, h = rnn(x, h)``): at the line that carries it, ``h = h.detach()``
    (truncated backpropagation through time); ``retain_graph=True`` would only hide the error
    and keep every batch's graph in memory;
  - a tensor computed once before the loop (``feats = embed(tokens)``): at the line that made
    it, "compute it inside the loop" when an optimizer steps the parameters behind it (a
    ``.detach()`` would silently stop them from training), else ``feats = feats.detach()``;
  - a tensor two losses of one step share, when the step after the first backward does not
    update the parameters behind it (a GAN's ``D(fake)`` without ``.detach()``): at the first
    loss's use of it, ``D(fake.detach())``; this finding lives in the first call's graph;
  - a tensor two losses of one step share otherwise: at the first backward call, one backward
    on the sum of the losses (or ``retain_graph=True`` on the first).
* no carry, another graph: two losses through a shared trunk, each with its own backward call;
  the earlier call that freed it is the last successful one without ``retain_graph=True``; the
  same fix as above, at that call.
* the same graph run twice (``loss.backward()`` twice): the earlier call that freed it is the
  last successful call into the same graph (``BackwardCall.graph``) made without
  ``retain_graph=True``; it is ``related``, the finding sits at the failing call.

In the graph, the finding sits on the first op whose saved values are freed (``freed`` flag),
else on the root; a GAN's on the first loss's use of the shared tensor.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

import graphscope.checks._freed_why as why
from graphscope.checks._common import error_finding
from graphscope.checks._freed_fixes import (
    badge_text,
    call_text,
    freer_elsewhere,
    loss_made_once,
    made_once,
    one_step,
    root_name,
    two_losses,
)
from graphscope.checks.catalogue import Entry
from graphscope.model import (
    AutogradGraph,
    BackwardCall,
    Events,
    Finding,
    GraphCarry,
    Location,
    OptimizerStep,
)

KIND = "graph-freed"

MARK = "Trying to backward through the graph a second time"
HINT = (
    "Recompute the forward pass before calling backward again, or pass retain_graph=True to the "
    "first backward call if you really need to go through the same graph twice."
)


def check(graph: AutogradGraph, events: Events) -> Iterator[Finding]:
    """One finding per backward call that went through an already freed graph, made in the
    graph where the fix goes (the first call's graph for a GAN, else the failing call's)."""
    gid = graph.graph.get("id")
    seen: set[tuple[object, ...]] = set()
    steps = list(events.steps)
    for c in events.backward:
        if not c.error or MARK not in c.error:
            continue
        carry = carried(c, events.carries)
        f = _explain(graph, gid, c, carry, events.backward, steps)
        if f is not None and f.key() not in seen:
            seen.add(f.key())
            yield f


def _explain(
    graph: AutogradGraph,
    gid: str | None,
    c: BackwardCall,
    carry: GraphCarry | None,
    calls: Sequence[BackwardCall],
    steps: Sequence[OptimizerStep],
) -> Finding | None:
    """The finding for the failing call ``c``, when ``graph`` is where it lives."""
    if carry is not None:
        freer = next((b for b in calls if b.index == carry.made_before), None)
        if freer is not None and freer.line != c.line and freer.graph is not None:
            if not _here(gid, freer.graph):
                return None
            return one_step(graph, gid, c, carry, freer, steps)
        if not _here(gid, c.graph):
            return None
        node = _node(graph, c) if gid is not None and c.graph in (None, gid) else None
        made = why.behind(graph, carry.name) if gid is not None else None
        if made is not None and not why.recurrent(graph, carry, made):
            return made_once(c, carry, freer, made, steps, node, gid)
        return _carried_finding(c, carry, calls, node, gid)
    if not _here(gid, c.graph):
        return None
    node = _node(graph, c) if gid is not None and c.graph in (None, gid) else None
    freer = _freer(c, calls)
    if freer is None:
        other = freer_elsewhere(c, calls)
        if other is not None:
            return two_losses(graph, c, other, node, gid)
    root = root_name(c)
    made = why.behind(graph, root) if gid is not None and freer is not None else None
    if made is not None and freer is not None and freer.line == c.line and made.made_line:
        if (made.made_file, made.made_line) != (c.file, c.line):
            return loss_made_once(c, freer, made, node, gid)
    return _repeat_finding(c, freer, node, gid)


_UNTRAINED = re.compile(r"^No optimizer updates what .+? is computed from \((.+?)\): ")


def untrained(finding: Finding) -> set[str]:
    """The parameters a finding of this kind says no optimizer updates (a tensor computed once
    before the loop by a frozen part; the first few when the hint elides the rest), for
    run_checks: ``param-not-in-optimizer`` does not repeat them."""
    m = _UNTRAINED.match(finding.hint or "")
    if m is None:
        return set()
    text = re.sub(r" \(\d+ in all\)$", "", m.group(1))
    return {n for n in text.split(", ") if n and n != "…"}


def _here(gid: str | None, home: str | None) -> bool:
    """Is the graph ``gid`` where a finding that belongs to graph ``home`` is made? With no
    graph captured (``gid`` None) or no home, every pass makes the same finding (kept once)."""
    return gid is None or home is None or gid == home


def carried(c: BackwardCall, carries: Sequence[GraphCarry]) -> GraphCarry | None:
    """The tensor carried from before the previous backward call into the graph of ``c``."""
    found = [k for k in carries if k.after_call == c.index - 1]
    found.sort(key=lambda k: k.made_before != k.after_call)  # freed by the previous call first
    return found[0] if found else None


def _carried_finding(
    c: BackwardCall,
    k: GraphCarry,
    calls: Sequence[BackwardCall],
    node: str | None,
    gid: str | None,
) -> Finding:
    freer = next((b for b in calls if b.index == k.made_before), None)
    name = k.name or "the state carried over from the previous batch"
    at = f" at line {freer.line}" if freer is not None and freer.line is not None else ""
    message = (
        f"{call_text(c)} went back into the previous batch's graph through {name}, which line "
        f"{k.line} carries from one batch to the next without detaching it; the previous "
        f"batch's backward call{at} had already freed that graph."
    )
    var = k.name
    hint = (
        f"Detach the carried state once per batch, before it is used: `{var} = {var}.detach()` "
        "(truncated backpropagation through time; for an LSTM's (h, c) tuple: "
        f"`{var} = tuple(t.detach() for t in {var})`). retain_graph=True would only hide the "
        "error, and keep every batch's graph in memory."
        if var is not None
        else "Detach the carried state once per batch, before it is used (its .detach(); "
        "truncated backpropagation through time). retain_graph=True would only hide the "
        "error, and keep every batch's graph in memory."
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
        file=k.file,
        line=k.line,
        node=node,
        graph=gid if node is not None else None,
        related=tuple(related),
        badge=badge_text(freer),
    )


def _retain_hint(freer: BackwardCall | None) -> str:
    """:data:`HINT`, with the first backward call as it should be written when it is
    ``y.backward()`` on one named root (``y.backward(retain_graph=True)``)."""
    roots = [r for r in freer.roots if r != "?"] if freer is not None else []
    if freer is None or freer.api != "backward" or len(roots) != 1 or not roots[0].isidentifier():
        return HINT
    return (
        "Recompute the forward pass before calling backward again, or pass retain_graph=True to "
        f"the first backward call (line {freer.line}: `{roots[0]}.backward(retain_graph=True)`) "
        "if you really need to go through the same graph twice."
    )


def _repeat_finding(
    c: BackwardCall, freer: BackwardCall | None, node: str | None, gid: str | None
) -> Finding:
    where = f" at line {freer.line}" if freer is not None and freer.line is not None else ""
    message = (
        f"{call_text(c)} went through a graph a second time, but the earlier backward call{where} "
        "(without retain_graph=True) had already freed the values it saved."
    )
    return Finding(
        kind=KIND,
        severity="error",
        message=message,
        hint=_retain_hint(freer),
        file=c.file,
        line=c.line,
        node=node,
        graph=gid if node is not None else None,
        related=(Location(freer.file, freer.line, "freed the graph"),) if freer is not None else (),
        badge=badge_text(freer),
    )


def from_error(events: Events) -> Iterator[Finding]:
    """The finding for the script's own exception, when it is this error."""
    return error_finding(
        events,
        KIND,
        MARK,
        (
            "This line went through an autograd graph (or read its saved values) after an earlier "
            "backward call without retain_graph=True had already freed them."
        ),
        HINT,
    )


def _freer(c: BackwardCall, calls: Sequence[BackwardCall]) -> BackwardCall | None:
    """The last successful call into the same graph before ``c`` that did not retain it."""
    if c.graph is None:
        return None
    earlier = [
        b
        for b in calls
        if b.index < c.index and b.graph == c.graph and not b.retain_graph and b.error is None
    ]
    return earlier[-1] if earlier else None


def _node(graph: AutogradGraph, c: BackwardCall) -> str | None:
    for n in graph.op_nodes():
        if graph.nodes[n].get("freed"):
            return n
    for name in c.roots:
        if name != "?" and graph.by_name(name) is not None:
            return graph.by_name(name)
    roots = graph.roots()
    return roots[0] if roots and c.graph == graph.graph.get("id") else None


#: torch's messages this kind explains (see :mod:`graphscope.checks.catalogue`)
MESSAGES = (
    Entry(
        KIND,
        (r"Trying to backward through the graph a second time",),
        explain=lambda events, err: from_error(events),
        example="Trying to backward through the graph a second time (or directly access saved tensors after they have already been freed).",
    ),
)
