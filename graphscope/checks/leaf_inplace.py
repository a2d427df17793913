"""leaf-inplace: an in-place operation on a leaf tensor that requires grad.

Reads ``events.inplace``: a write torch refused with "a leaf Variable that requires grad is
being used in an in-place operation." (``raised``; also "a view of a leaf Variable ..." for
``w.view(1).add_(1)``), or a write on a leaf that requires grad, with gradients enabled, that did
not go through (its version did not move: refused, message not kept). A write that did bump the
version was allowed by torch: it ran under ``torch.no_grad()`` (the usual ``w -= lr * w.grad``,
or ``nn.init`` inside a module's constructor, which the recorder sees from outside) or on
``.data``, and is fine.

:func:`from_error` explains the script's own exception when no write was recorded.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from graphscope.checks._rewrite import source_line
from graphscope.checks.catalogue import Entry
from graphscope.model import AutogradGraph, Events, Finding, InplaceWrite

KIND = "leaf-inplace"

MARK = "a leaf Variable that requires grad"
HINT = (
    "Change parameters in place only inside a torch.no_grad() block (as an optimizer's update "
    "does), or use an out-of-place operation that makes a new tensor."
)


def _hint(file: str | None, line: int | None, name: str | None) -> str:
    """The fix in the user's own statement: ``with torch.no_grad(): w -= lr * w.grad``, when
    the line is one statement that only writes (the generic :data:`HINT` otherwise)."""
    code = no_grad_line(source_line(file, line))
    if code is None:
        return HINT
    what = name or "a leaf that requires grad"
    return (
        f"Change {what} in place only where backward must not see it, inside torch.no_grad() "
        f"(as an optimizer's update does): `{code}`; or compute a new tensor out of place and "
        f"leave {name or 'the leaf'} as it is."
    )


def no_grad_line(text: str) -> str | None:
    """``with torch.no_grad(): w -= lr * w.grad`` for the line ``w -= lr * w.grad  # step``:
    a one-line statement that only writes (a call, ``+=``, ``w[0] = ...``), else None.

    >>> no_grad_line("    emb[0] = 0.0  # the padding row")
    'with torch.no_grad(): emb[0] = 0.0'
    >>> no_grad_line("y = w.add_(1)") is None
    True
    """
    try:
        body = ast.parse(text.strip()).body
    except SyntaxError:
        return None
    if len(body) != 1:
        return None
    stmt = body[0]
    writes = isinstance(stmt, ast.Expr | ast.AugAssign) or (
        isinstance(stmt, ast.Assign) and not any(isinstance(t, ast.Name) for t in stmt.targets)
    )
    if not writes:
        return None
    return f"with torch.no_grad(): {ast.get_source_segment(text.strip(), stmt)}"


def check(graph: AutogradGraph, events: Events) -> Iterator[Finding]:
    """One finding per in-place write on a leaf that requires grad, outside no_grad."""
    seen: set[tuple[str | None, int | None, str]] = set()
    for w in events.inplace:
        if not _offends(w):
            continue
        node = graph.by_name(w.name) if w.name else None
        f = Finding(
            kind=KIND,
            severity="error",
            message=_message(w),
            hint=_hint(w.file, w.line, w.name),
            file=w.file,
            line=w.line,
            node=node,
            graph=graph.graph.get("id") if node is not None else None,
            badge=f"in-place {w.api} ← line {w.line}"
            if w.line is not None
            else f"in-place {w.api}",
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
        severity="error",
        message=(
            f"This line writes in place into {view}a leaf tensor that requires grad, which autograd "
            "forbids because backward needs its original value."
        ),
        hint=_hint(err.file, err.line, None),
        file=err.file,
        line=err.line,
    )


def _offends(w: InplaceWrite) -> bool:
    if w.raised is not None:
        return MARK in w.raised
    refused = w.version_after <= w.version_before
    return w.is_leaf and w.requires_grad and w.grad_enabled and refused


def _message(w: InplaceWrite) -> str:
    leaf = (
        f"{w.name}, a leaf tensor that requires grad"
        if w.name
        else "a leaf tensor that requires grad"
    )
    view = "" if w.is_leaf else "a view of "
    return (
        f"{_op(w.api)} writes in place into {view}{leaf}, which autograd forbids because backward "
        "needs its original value."
    )


def _op(api: str) -> str:
    if api == "__setitem__":
        return "Item assignment (x[i] = ...)"
    if api.startswith("__i") and api.endswith("__"):  # __iadd__ -> +=
        sym = {"add": "+=", "sub": "-=", "mul": "*=", "truediv": "/=", "div": "/=", "pow": "**="}
        return f"`{sym.get(api[3:-2], api)}`"
    return f"{api}()"


#: torch's messages this kind explains (see :mod:`graphscope.checks.catalogue`)
MESSAGES = (
    Entry(
        KIND,
        (
            r"a (?:view of a )?leaf Variable that requires grad (?:is being|has been) used in an "
            r"in-place operation",
        ),
        explain=lambda events, err: from_error(events),
        example="a leaf Variable that requires grad is being used in an in-place operation.",
    ),
)
