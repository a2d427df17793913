"""graph-freed: backward through a graph whose saved values an earlier backward freed.

Reads ``events.backward``: a call that raised "Trying to backward through the graph a second
time". Two causes, told apart by ``events.carries``:

* a tensor carried over from the previous batch (``out, h = rnn(x, h)`` without detaching
  ``h``): a :class:`~graphscope.model.GraphCarry` recorded between the previous backward call and
  the failing one. The finding names the carried tensor, sits at the line that carries it, and
  its hint is ``h = h.detach()`` (truncated backpropagation through time); ``retain_graph=True``
  would only hide the error and keep every batch's graph in memory. ``related``: the call that
  freed that graph, and the failing call.
* the same graph run twice (``loss.backward()`` twice): the earlier call that freed it is the
  last successful call into the same graph (``BackwardCall.graph``) made without
  ``retain_graph=True``; it is ``related``.

In the graph, the finding sits on the first op whose saved values are freed (``freed`` flag: for
a carried state, the previous batch's part of the graph), else on the root.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from graphscope.checks._common import error_finding
from graphscope.checks.catalogue import Entry
from graphscope.model import AutogradGraph, BackwardCall, Events, Finding, GraphCarry, Location

KIND = "graph-freed"

MARK = "Trying to backward through the graph a second time"
HINT = (
    "Recompute the forward pass before calling backward again, or pass retain_graph=True to the "
    "first backward call if you really need to go through the same graph twice."
)


def check(graph: AutogradGraph, events: Events) -> Iterator[Finding]:
    """One finding per backward call that went through an already freed graph."""
    gid = graph.graph.get("id")
    seen: set[tuple[object, ...]] = set()
    for c in events.backward:
        if not c.error or MARK not in c.error:
            continue
        node = _node(graph, c) if gid is not None and c.graph in (None, gid) else None
        carry = carried(c, events.carries)
        if carry is not None:
            f = _carried_finding(c, carry, events.backward, node, gid)
        else:
            f = _repeat_finding(c, _freer(c, events.backward), node, gid)
        if f.key() not in seen:
            seen.add(f.key())
            yield f


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
        f"{_call(c)} went back into the previous batch's graph through {name}, which line "
        f"{k.line} carries from one batch to the next without detaching it; the previous "
        f"batch's backward call{at} had already freed that graph."
    )
    var = k.name or "h"
    hint = (
        f"Detach the carried state once per batch, before it is used: `{var} = {var}.detach()` "
        "(truncated backpropagation through time; for an LSTM's (h, c) tuple: "
        f"`{var} = tuple(t.detach() for t in {var})`). retain_graph=True would only hide the "
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
        badge=f"freed by line {freer.line}"
        if freer is not None and freer.line is not None
        else "freed",
    )


def _repeat_finding(
    c: BackwardCall, freer: BackwardCall | None, node: str | None, gid: str | None
) -> Finding:
    where = f" at line {freer.line}" if freer is not None and freer.line is not None else ""
    message = (
        f"{_call(c)} went through a graph a second time, but the earlier backward call{where} "
        "(without retain_graph=True) had already freed the values it saved."
    )
    return Finding(
        kind=KIND,
        severity="error",
        message=message,
        hint=HINT,
        file=c.file,
        line=c.line,
        node=node,
        graph=gid if node is not None else None,
        related=(Location(freer.file, freer.line, "freed the graph"),) if freer is not None else (),
        badge=f"freed by line {freer.line}"
        if freer is not None and freer.line is not None
        else "freed",
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


def _call(c: BackwardCall) -> str:
    if c.api == "grad":
        return "torch.autograd.grad()"
    named = [r for r in c.roots if r != "?"]
    return f"{named[0]}.backward()" if len(c.roots) == 1 and named else "backward()"


#: torch's messages this kind explains (see :mod:`graphscope.checks.catalogue`)
MESSAGES = (
    Entry(
        KIND,
        (r"Trying to backward through the graph a second time",),
        explain=lambda events, err: from_error(events),
        example="Trying to backward through the graph a second time (or directly access saved tensors after they have already been freed).",
    ),
)
