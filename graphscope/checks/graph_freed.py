"""graph-freed: backward through a graph whose saved values an earlier backward freed.

Reads ``events.backward``: a call that raised "Trying to backward through the graph a second
time". The earlier call that freed the graph is the last successful call into the same graph
(``BackwardCall.graph``) made without ``retain_graph=True``; it is ``related``. In the graph,
the finding sits on the first op whose saved values are freed (``freed`` flag), else on the root.

(The ``freed`` flags alone do not tell a failed call from a successful one: ``watch`` refreshes
them after every call, so this check keys on the engine's error.)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from graphscope.checks._common import error_finding
from graphscope.model import AutogradGraph, BackwardCall, Events, Finding, Location

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
        freer = _freer(c, events.backward)
        node = _node(graph, c) if gid is not None and c.graph in (None, gid) else None
        where = f" at line {freer.line}" if freer is not None and freer.line is not None else ""
        message = (
            f"{_call(c)} went through a graph a second time, but the earlier backward call{where} "
            "(without retain_graph=True) had already freed the values it saved."
        )
        f = Finding(
            kind=KIND,
            severity="error",
            message=message,
            hint=HINT,
            file=c.file,
            line=c.line,
            node=node,
            graph=gid if node is not None else None,
            related=(Location(freer.file, freer.line, "freed the graph"),)
            if freer is not None
            else (),
            badge=f"freed by line {freer.line}"
            if freer is not None and freer.line is not None
            else "freed",
        )
        if f.key() not in seen:
            seen.add(f.key())
            yield f


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
