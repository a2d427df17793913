"""step-without-backward: optimizer steps ran, and no backward call ever did.

Reads ``events.steps`` and ``events.backward``. The script stepped an optimizer (``opt.step()``)
and never called backward, so no parameter had a gradient and every step changed nothing: the
script runs to the end, prints its loss, and the model never learns. The usual cause is
``loss.backward`` written without its parentheses (a bare attribute, which Python evaluates and
throws away); else the backward call was forgotten or sits in a branch that never runs.

One warning. When the steps' file holds a bare ``<name>.backward`` statement, the finding is at
that line, its fix the call (``loss.backward()``); otherwise it is at the first step's line.

Not a finding: a script with at least one backward call (steps before the first one are a
different question: ``zeroed-before-step``), with no optimizer step, or whose steps found
gradients there (assigned from ``torch.autograd.grad`` or ``torch.func.grad``).
"""

from __future__ import annotations

import ast
import linecache
from collections.abc import Iterator

from graphscope.model import AutogradGraph, Events, Finding, Location

KIND = "step-without-backward"


def check(graph: AutogradGraph, events: Events) -> Iterator[Finding]:
    """One finding when optimizer steps ran and no backward call did."""
    if len(events.backward) or not len(events.steps) or graph.graph.get("id") is not None:
        return
    if any(s.params for s in events.steps):
        return  # gradients came from elsewhere (assigned from torch.autograd.grad, torch.func)
    first = events.steps[0]
    n = len(events.steps)
    opt = first.name or f"the {first.optimizer} optimizer"
    stepped = f"{opt}.step()" if first.name else f"{opt}'s step()"
    at = f" at line {first.line}" if first.line is not None else ""
    steps = f"{n} time{'s' if n != 1 else ''}"
    bare = _bare_backward(first.file)
    if bare is not None:
        line, target = bare
        yield Finding(
            kind=KIND,
            severity="warning",
            message=(
                f"`{target}.backward` at line {line} names the method without calling it, so no "
                f"backward call ever ran: {stepped}{at} ran {steps} with no gradient to apply, "
                "and the model never changed."
            ),
            hint=f"Call it: `{target}.backward()`.",
            file=first.file,
            line=line,
            related=(Location(first.file, first.line, "the steps that changed nothing"),),
        )
        return
    yield Finding(
        kind=KIND,
        severity="warning",
        message=(
            f"{stepped}{at} ran {steps}, and no backward call ever ran: no parameter had a "
            "gradient, so every step changed nothing and the model never learned."
        ),
        hint=(
            "Compute the gradients before each step: `loss.backward()` after the loss and "
            f"before `{opt}.step()`."
            if first.name
            else "Compute the gradients before each step: `loss.backward()` after the loss and "
            "before the optimizer's step()."
        ),
        file=first.file,
        line=first.line,
    )


def _bare_backward(file: str | None) -> tuple[int, str] | None:
    """``(line, "loss")`` of the first ``loss.backward`` statement (no call) in ``file``."""
    if not file:
        return None
    try:
        source = "".join(linecache.getlines(file))
        tree = ast.parse(source)
    except (SyntaxError, ValueError, OSError):
        return None
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "backward"
        ):
            target = ast.get_source_segment(source, node.value.value) or ast.unparse(
                node.value.value
            )
            return node.lineno, target
    return None
