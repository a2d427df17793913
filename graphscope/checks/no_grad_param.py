"""no-grad-param: a tensor that requires grad that the backward did not reach.

Reads the graph: tensor nodes with ``reached`` False (``trace`` adds a parameter of a module
that ran, or a named leaf, that the walk from the roots never met) that are parameters or
leaves requiring grad. The line is the backward call the graph was captured at. A tensor that
received a gradient in any backward call (``events.grads``) is not reported; across graphs,
:func:`graphscope.checks.run_checks` also drops a tensor reached in any other graph.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphscope.model import ROLE_PARAM, TENSOR, AutogradGraph, Events, Finding

KIND = "no-grad-param"


def check(graph: AutogradGraph, events: Events) -> Iterator[Finding]:
    """One finding per tensor that requires grad and that this graph's backward never reached."""
    gid = graph.graph.get("id")
    got_grad = {u.name for u in events.grads}
    call = _call(graph, events)
    for node, d in graph.nodes(data=True):
        if d.get("kind") != TENSOR or d.get("reached", True):
            continue
        if not (d.get("role") == ROLE_PARAM or (d.get("is_leaf") and d.get("requires_grad"))):
            continue
        names = {d.get("name"), *(d.get("aliases") or ())} - {None}
        if names & got_grad:
            continue
        name = d.get("name") or d.get("label") or "a tensor"
        kind = "parameter" if d.get("role") == ROLE_PARAM else "tensor"
        where = f" at line {call[1]}" if call is not None and call[1] is not None else ""
        yield Finding(
            kind=KIND,
            severity="warning",
            message=(
                f"{kind.capitalize()} {name} requires grad, but the backward call{where} never "
                f"reached it, so it gets no gradient (is it unused, detached, or used under "
                "torch.no_grad()?)."
            ),
            hint=(
                f"Make the loss depend on {name} (call the module that owns it, remove the "
                ".detach() or torch.no_grad() in between), or set requires_grad=False on it if it "
                "is meant to stay frozen."
            ),
            file=call[0] if call is not None else None,
            line=call[1] if call is not None else None,
            node=node,
            graph=gid,
            badge="no gradient",
        )


def _call(graph: AutogradGraph, events: Events) -> tuple[str | None, int | None] | None:
    """(file, line) of the first backward call this graph stood for."""
    calls = list(graph.graph.get("calls") or ())
    if not calls and graph.graph.get("call") is not None:
        calls = [graph.graph["call"]]
    for c in events.backward:
        if calls and c.index == calls[0]:
            return c.file, c.line
    return None
