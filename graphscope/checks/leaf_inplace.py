"""leaf-inplace: an in-place operation on a leaf tensor that requires grad.

Reads ``events.inplace``: a write on a leaf that requires grad while gradients were being
recorded (torch raises "a leaf Variable that requires grad is being used in an in-place
operation."), or any write torch refused with that message (``w.view(1).add_(1)``: a view of
such a leaf). Writes under ``torch.no_grad()`` (the usual ``w -= lr * w.grad``) are fine.

:func:`from_error` explains the script's own exception when no write was recorded.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphscope.model import ERROR, AutogradGraph, Events, Finding, InplaceWrite

KIND = "leaf-inplace"

MARK = "a leaf Variable that requires grad"
HINT = (
    "Change parameters in place only inside `with torch.no_grad():` (e.g. `w -= lr * w.grad`), "
    "or use an out-of-place operation that makes a new tensor (`w2 = w + 1`)."
)


def check(graph: AutogradGraph, events: Events) -> Iterator[Finding]:
    """One finding per in-place write on a leaf that requires grad, outside no_grad."""
    seen: set[tuple[str | None, int | None, str]] = set()
    for w in events.inplace:
        if not _offends(w):
            continue
        node = graph.by_name(w.name) if w.name else None
        f = Finding(
            kind=KIND,
            severity=ERROR,
            message=_message(w),
            hint=HINT,
            file=w.file,
            line=w.line,
            node=node,
            graph=graph.graph.get("id") if node is not None else None,
            badge=f"in-place {w.api} ← line {w.line}" if w.line is not None else f"in-place {w.api}",
        )
        if f.key() not in seen:
            seen.add(f.key())
            yield f


def from_error(events: Events) -> Iterator[Finding]:
    """The finding for the script's own exception, when it is this error."""
    err = events.error
    if err is None or MARK not in err.message:
        return
    view = "a view of " if "a view of a leaf" in err.message else ""
    yield Finding(
        kind=KIND,
        severity=ERROR,
        message=(
            f"This line writes in place into {view}a leaf tensor that requires grad, which autograd "
            "forbids because backward needs its original value."
        ),
        hint=HINT,
        file=err.file,
        line=err.line,
    )


def _offends(w: InplaceWrite) -> bool:
    if w.raised is not None and MARK in w.raised:
        return True
    return w.is_leaf and w.requires_grad and w.grad_enabled


def _message(w: InplaceWrite) -> str:
    what = w.name or "a tensor"
    op = _op(w.api)
    if not w.is_leaf:
        return (
            f"{op} writes in place into a view of {what}, a leaf tensor that requires grad, which "
            "autograd forbids because backward needs its original value."
        )
    return (
        f"{op} writes in place into {what}, a leaf tensor that requires grad, which autograd "
        "forbids because backward needs its original value."
    )


def _op(api: str) -> str:
    if api == "__setitem__":
        return "Item assignment (x[i] = ...)"
    if api.startswith("__i") and api.endswith("__"):  # __iadd__ -> +=
        sym = {"add": "+=", "sub": "-=", "mul": "*=", "truediv": "/=", "div": "/=", "pow": "**="}
        return f"`{sym.get(api[3:-2], api)}`"
    return f"{api}()"
