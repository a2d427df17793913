"""no-grad-fn: backward on a tensor that does not require grad and has no ``grad_fn``.

Reads ``events.backward``: a call that raised "does not require grad and does not have a
grad_fn", or whose roots include one that does not require grad. ``related`` is where gradient
recording was switched off (``events.grad_off``: the latest ``torch.no_grad()`` block,
``torch.set_grad_enabled(False)``, ``torch.inference_mode()`` or ``.detach()`` of a tensor that
requires grad made since the previous backward call), and the hint is the fix for that one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import cast

from graphscope.checks._common import error_finding
from graphscope.checks.catalogue import Entry
from graphscope.model import AutogradGraph, BackwardCall, Events, Finding, GradOff, Location

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
        off = _switched_off(c, events.grad_off)
        message = (
            f"{call} was called on {what}, which does not require grad and has no grad_fn: autograd "
            "recorded no graph for it, so there is nothing to differentiate."
        )
        hint, related = HINT, cast(tuple[Location, ...], ())
        if off is not None:
            message = (
                f"{call} was called on {what}, which has no grad_fn: gradient recording was "
                f"switched off where it was computed, {_WHAT[off.api].format(n=_of(off.name))} "
                f"at line {off.line}, so autograd recorded no graph to differentiate."
            )
            hint = _HINTS[off.api].format(n=off.name or "the tensor", line=off.line)
            related = (Location(off.file, off.line, "gradient recording switched off here"),)
        node = None
        if gid is not None and c.graph in (None, gid) and name:
            node = graph.by_name(name)
        f = Finding(
            kind=KIND,
            severity="error",
            message=message,
            hint=hint,
            file=c.file,
            line=c.line,
            node=node,
            graph=gid if node is not None else None,
            related=related,
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


_WHAT = {
    "no_grad": "by the torch.no_grad() block",
    "set_grad_enabled": "by torch.set_grad_enabled(False)",
    "inference_mode": "by the torch.inference_mode() block",
    "detach": "by the .detach(){n}",
}
_HINTS = {
    "no_grad": (
        "Run the forward pass you train through outside `with torch.no_grad():` (line {line}); "
        "keep no_grad for evaluation only."
    ),
    "set_grad_enabled": (
        "Switch gradients back on before the training forward pass (torch.set_grad_enabled(True)), "
        "or use `with torch.set_grad_enabled(False):` as a block so that it ends."
    ),
    "inference_mode": (
        "Compute what you train through outside torch.inference_mode() (line {line}): tensors "
        "made inside it never get a graph."
    ),
    "detach": (
        "Remove the .detach() at line {line}: it cuts {n} off the graph, so the loss cannot reach "
        "what computed it (detach only values you log or reuse as constants)."
    ),
}


def _of(name: str | None) -> str:
    return f" of {name}" if name else ""


def _switched_off(c: BackwardCall, offs: list[GradOff]) -> GradOff | None:
    """The latest place gradients were switched off since the backward call before ``c``."""
    since = [g for g in offs if g.after_call == c.index - 1 and g.api in _WHAT]
    return max(since, key=lambda g: g.index) if since else None


def _offending_root(c: BackwardCall) -> int | None:
    if c.error and MARK in c.error:
        m = _ELEMENT.search(c.error)
        return int(m[1]) if m else 0
    for i, rg in enumerate(c.root_requires_grad):
        if not rg:
            return i
    return None


#: torch's messages this kind explains (see :mod:`graphscope.checks.catalogue`)
MESSAGES = (
    Entry(
        KIND,
        (r"does not require grad and does not have a grad_fn",),
        explain=lambda events, err: from_error(events),
        example="element 0 of tensors does not require grad and does not have a grad_fn",
    ),
)
