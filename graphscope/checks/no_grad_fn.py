"""no-grad-fn: backward on a tensor that does not require grad and has no ``grad_fn``.

Reads ``events.backward``: a call that raised "does not require grad and does not have a
grad_fn", or whose roots include one that does not require grad.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from graphscope.checks._common import error_finding
from graphscope.model import AutogradGraph, BackwardCall, Events, Finding

KIND = "no-grad-fn"

MARK = "does not require grad and does not have a grad_fn"
_ELEMENT = re.compile(r"element (\d+) of tensors")
HINT = (
    "Create the tensors you want gradients for with requires_grad=True (or call "
    "w.requires_grad_()) before the forward pass, and check that the forward pass does not run "
    "under torch.no_grad() or go through .detach()."
)


def check(graph: AutogradGraph, events: Events) -> Iterator[Finding]:
    """One finding per backward call on a tensor autograd recorded nothing for."""
    gid = graph.graph.get("id")
    seen: set[tuple[object, ...]] = set()
    for c in events.backward:
        i = _offending_root(c)
        if i is None:
            continue
        name = c.roots[i] if i < len(c.roots) and c.roots[i] != "?" else None
        call = (
            "torch.autograd.grad()"
            if c.api == "grad"
            else f"{name}.backward()"
            if name
            else "backward()"
        )
        what = name or "a tensor"
        message = (
            f"{call} was called on {what}, which does not require grad and has no grad_fn: autograd "
            "recorded no graph for it, so there is nothing to differentiate."
        )
        node = None
        if gid is not None and c.graph in (None, gid) and name:
            node = graph.by_name(name)
        f = Finding(
            kind=KIND,
            severity="error",
            message=message,
            hint=HINT,
            file=c.file,
            line=c.line,
            node=node,
            graph=gid if node is not None else None,
            badge="no grad_fn",
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
            "backward was called on a tensor that does not require grad and has no grad_fn: autograd "
            "recorded no graph for it, so there is nothing to differentiate."
        ),
        HINT,
    )


def _offending_root(c: BackwardCall) -> int | None:
    if c.error and MARK in c.error:
        m = _ELEMENT.search(c.error)
        return int(m[1]) if m else 0
    for i, rg in enumerate(c.root_requires_grad):
        if not rg:
            return i
    return None
