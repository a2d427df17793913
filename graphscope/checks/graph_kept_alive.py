"""graph-kept-alive: a tensor that requires grad is accumulated across iterations.

Reads ``events.carries`` and ``events.kept``:

* a :class:`~graphscope.model.GraphCarry` with ``same_site``: a line that takes, after a backward
  call, a tensor it built itself before that call (``total_loss += loss``): each iteration's
  graph is linked to all the earlier ones, so none is ever freed. A carry that is the cause of
  a ``graph-freed`` error at the next backward call is that finding's, not this one's; one
  that the next backward calls go through, their graphs growing, is a recurrent state
  (``graph-grows``, which :func:`graphscope.checks.run_checks` keeps instead of this one).
* a :class:`~graphscope.model.KeptAlive`: a list (or other container) still holding the losses
  of earlier iterations, each with its graph (``losses.append(loss)``).

Warning, at the accumulating statement, naming the variable; the fix is to keep numbers
(``loss.item()``) or detached tensors.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from graphscope.checks import _statement
from graphscope.checks._rewrite import source_line
from graphscope.model import AutogradGraph, Events, Finding

KIND = "graph-kept-alive"

_FREED = "Trying to backward through the graph a second time"


def check(graph: AutogradGraph, events: Events) -> Iterator[Finding]:
    """One finding per accumulating line."""
    failed = {c.index for c in events.backward if c.error and _FREED in c.error}
    seen: set[tuple[object, ...]] = set()
    for k in events.carries:
        if not k.same_site or k.after_call + 1 in failed:
            continue
        name = k.name or "the running total"
        var = k.name or "total"
        f = Finding(
            kind=KIND,
            severity="warning",
            message=(
                f"Line {k.line} adds to {name} a tensor that requires grad in every iteration: "
                f"each addition links this iteration's graph to all the earlier ones, so no graph "
                "is ever freed and memory grows with every batch."
            ),
            hint=_hint(var, k.file, k.line),
            file=k.file,
            line=k.line,
        )
        if f.key() not in seen:
            seen.add(f.key())
            yield f
    for kept in events.kept:
        f = Finding(
            kind=KIND,
            severity="warning",
            message=(
                f"{kept.name} keeps the loss of every iteration ({kept.count} of the earlier ones "
                f"at backward call {kept.call}), each still attached to its graph, so memory "
                "grows with every batch."
            ),
            hint=_kept_hint(kept.name, kept.file, kept.line),
            file=kept.file,
            line=kept.line,
        )
        if f.key() not in seen:
            seen.add(f.key())
            yield f


def _hint(var: str, file: str | None, line: int | None) -> str:
    """Accumulate a number: the user's statement with ``.item()`` (or ``.detach()``)."""
    number, detached = _as_number(file, line, "item"), _as_number(file, line, "detach")
    if number is None or detached is None:
        return (
            f"Accumulate a number, not the tensor: add the .item() of what it adds to {var} (or "
            "its .detach(), to keep a tensor without its graph)."
        )
    return (
        f"Accumulate a number, not the tensor: `{number}` (or `{detached}`, to keep a tensor "
        "without its graph)."
    )


def _kept_hint(var: str, file: str | None, line: int | None) -> str:
    """Keep numbers: the user's ``losses.append(loss)`` with ``.item()`` (or ``.detach()``)."""
    text = source_line(file, line).strip()
    node = _statement.parse(text)
    call = node.value if isinstance(node, ast.Expr) else None
    if (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == "append"
        and len(call.args) == 1
        and not call.keywords
    ):
        head = _statement.segment(text, call.func)
        number = f"{head}({_item(text, call.args[0], 'item')})"
        detached = f"{head}({_item(text, call.args[0], 'detach')})"
        return f"Keep numbers: `{number}` (or `{detached}` to keep a tensor without its graph)."
    return (
        f"Keep numbers in {var}: the .item() of each loss (or its .detach() to keep a tensor "
        "without its graph)."
    )


def _as_number(file: str | None, line: int | None, method: str) -> str | None:
    """The accumulating statement as the user wrote it, calling ``method`` on what it adds
    (``total += train_step(x)`` -> ``total += train_step(x).item()``); None when the line is
    not a plain ``+=`` or ``t = t + ...``."""
    text = source_line(file, line).strip()
    node = _statement.parse(text)
    if isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Add):
        target = _statement.segment(text, node.target)
        return f"{target} += {_item(text, node.value, method)}"
    if (
        isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.value, ast.BinOp)
        and isinstance(node.value.op, ast.Add)
    ):
        target = _statement.segment(text, node.targets[0])
        if _statement.segment(text, node.value.left) == target:
            return f"{target} = {target} + {_item(text, node.value.right, method)}"
    return None


def _item(text: str, value: ast.expr, method: str = "item") -> str:
    src = _statement.segment(text, value)
    if isinstance(value, (ast.Name, ast.Attribute, ast.Call, ast.Subscript)):
        return f"{src}.{method}()"
    return f"({src}).{method}()"
