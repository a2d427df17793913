"""no-grad-param: a tensor that requires grad that the backward did not reach.

Reads the graph: tensor nodes with ``reached`` False (``trace`` adds a parameter of a module
that ran, or a named leaf, that the walk from the roots never met) that are parameters or
leaves requiring grad. The line is the backward call the graph was captured at. A tensor that
received a gradient in any backward call (``events.grads``) is not reported; across graphs,
:func:`graphscope.checks.run_checks` also drops a tensor reached in any other graph, then
:func:`merge` makes one finding of those left for one backward call (one cause: the module left
out, the ``.detach()``), listing them.

Which parameters are candidates is ``watch``'s part: those of modules whose forward ran with
gradients on (not a module run only under ``no_grad`` or eval fast paths, not one whose
parameters ``torch.func.functional_call`` replaced), none for a backward call made inside a
``torch.func`` transform; one that got its gradient from a backward run inside the call
(reentrant checkpoint) counts as reached. A parameter a reentrant checkpoint cut off (its
inputs did not require grad) is ``checkpoint-no-grad``'s: ``run_checks`` drops it here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from graphscope.checks._code import frozen, shown
from graphscope.checks._common import listed, module_text
from graphscope.model import ROLE_PARAM, TENSOR, AutogradGraph, Events, Finding, GradOff

KIND = "no-grad-param"


def check(graph: AutogradGraph, events: Events) -> Iterator[Finding]:
    """One finding per tensor that requires grad and that this graph's backward never reached."""
    gid = graph.graph.get("id")
    got_grad = {u.name for u in events.grads}
    call = _call(graph, events)
    cut = _detach_fix(events, call[2] if call is not None else None)
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
            hint=_hint(
                f"Make the loss depend on {name} (call the module that owns it, remove the "
                ".detach() or torch.no_grad() in between)",
                frozen([name], []),
                "it is",
                cut,
            ),
            file=call[0] if call is not None else None,
            line=call[1] if call is not None else None,
            node=node,
            graph=gid,
            badge="no gradient",
        )


def merge(found: Sequence[Finding], graphs: Sequence[AutogradGraph]) -> list[Finding]:
    """One finding per graph and backward call, listing every tensor it did not reach."""
    groups: dict[tuple[object, ...], list[Finding]] = {}
    out: list[Finding] = []
    for f in found:
        if f.kind == KIND and f.node is not None:
            groups.setdefault((f.graph, f.file, f.line), []).append(f)
        else:
            out.append(f)
    by_id = {g.graph.get("id"): g for g in graphs}
    for group in groups.values():
        graph = by_id.get(group[0].graph)
        out.append(group[0] if len(group) == 1 or graph is None else _merged(group, graph))
    return out


def _merged(group: list[Finding], graph: AutogradGraph) -> Finding:
    names = [
        str(graph.nodes[f.node].get("name") or graph.nodes[f.node].get("label")) for f in group
    ]
    modules = sorted({m for f in group if f.node is not None and (m := module_text(graph, f.node))})
    owners = f" (module{'s' if len(modules) > 1 else ''} {', '.join(modules)})" if modules else ""
    first = group[0]
    where = f" at line {first.line}" if first.line is not None else ""
    return Finding(
        kind=KIND,
        severity="warning",
        message=(
            f"The backward call{where} never reached {len(names)} tensors that require grad: "
            f"{listed(names)}{owners}, so they get no gradient (are they unused, detached, or used "
            "under torch.no_grad()?)."
        ),
        hint=_hint(
            "Make the loss depend on them (call the module that owns them, remove the .detach() "
            "or torch.no_grad() in between)",
            frozen(names, modules),
            "they are",
            _cut(first.hint),
        ),
        file=first.file,
        line=first.line,
        node=first.node,
        nodes=tuple(f.node for f in group if f.node is not None),
        graph=first.graph,
        badge="no gradient",
    )


_CUT = " If the .detach() at line "


def _hint(depend: str, freeze: str | None, are: str, cut: str) -> str:
    """The fix: make the loss depend on them (the ``.detach()`` to remove, when one was made in
    this forward pass), or freeze them (in code when it is Python in the user's names)."""
    frozen_text = (
        f"freeze them if {are} meant to stay frozen: {freeze}"
        if freeze
        else f"set requires_grad=False on them if {are} meant to stay frozen"
    )
    return f"{depend}, or {frozen_text}.{cut}"


def _cut(hint: str) -> str:
    """The ``.detach()`` sentence of a hint :func:`_hint` wrote (for the merged finding)."""
    i = hint.find(_CUT)
    return hint[i:] if i >= 0 else ""


def _detach_fix(events: Events, call: int | None) -> str:
    """When exactly one named ``.detach()`` ran in the forward pass of backward call ``call``
    (after the call before it), the sentence that shows the code without it."""
    if call is None:
        return ""
    cuts = [o for o in events.grad_off if o.api == "detach" and o.after_call == call - 1]
    if len(cuts) != 1 or cuts[0].name is None or cuts[0].line is None:
        return ""
    o: GradOff = cuts[0]
    bare, detached = shown(o.name or ""), shown(f"{o.name}.detach()")
    if bare is None or detached is None:
        return ""
    return f"{_CUT}{o.line} is what cuts them off, use {bare} there instead of {detached}."


def _call(graph: AutogradGraph, events: Events) -> tuple[str | None, int | None, int] | None:
    """(file, line, index) of the first backward call this graph stood for."""
    calls = list(graph.graph.get("calls") or ())
    if not calls and graph.graph.get("call") is not None:
        calls = [graph.graph["call"]]
    for c in events.backward:
        if calls and c.index == calls[0]:
            return c.file, c.line, c.index
    return None
