"""no-grad-fn: backward on a tensor that does not require grad and has no ``grad_fn``.

Reads ``events.backward``: a call that raised "does not require grad and does not have a
grad_fn", or whose roots include one that does not require grad. The finding's line is where the
graph was cut, when known, and the failing backward call is ``related``:

* where gradient recording was switched off (``events.grad_off``: the latest ``torch.no_grad()``
  block, ``torch.set_grad_enabled(False)``, ``torch.inference_mode()``, ``.detach()`` of a
  tensor that requires grad, or ``argmax()``/``argmin()``/``argsort()`` of one, whose integer
  indices carry no gradient (an accuracy used as the loss), made since the previous backward
  call), with the fix for that one;
* the statement that made the root with ``torch.tensor(losses)`` (a new tensor holding the
  values of tensors that had graphs: read from the raising statement's evidence,
  ``ErrorSite``), with ``torch.stack(losses)`` in that statement as the fix.

Otherwise the line is the backward call's.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from typing import cast

from graphscope.checks import _statement
from graphscope.checks._common import error_finding
from graphscope.checks._rewrite import source_line
from graphscope.checks.catalogue import Entry
from graphscope.model import AutogradGraph, BackwardCall, Events, Finding, GradOff, Location

KIND = "no-grad-fn"

MARK = "does not require grad and does not have a grad_fn"
_ELEMENT = re.compile(r"element (\d+) of tensors")
HINT = (
    "Create the tensors you want gradients for with requires_grad=True (or call their "
    ".requires_grad_()) before the forward pass, and check that the forward pass does not run "
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
        file, line = c.file, c.line
        leaf = _leaf_to_train(c.file, c.line, name)
        if leaf is not None:
            hint = (
                f"Ask for gradients of the tensor you train before the forward pass: "
                f"`{leaf[0]}.requires_grad_()` before line {leaf[1]}, where {name} is computed "
                f"from it (or create {leaf[0]} with requires_grad=True); and check that the "
                "forward pass does not run under torch.no_grad() or go through .detach()."
            )
        remade = _new_tensor(events, c, name)
        if remade is not None:
            message, hint, file, line = remade
            related = (Location(c.file, c.line, "backward raised here"),)
        elif off is not None:
            message = (
                f"{call} was called on {what}, which has no grad_fn: gradient recording was "
                f"switched off where it was computed, {_WHAT[off.api].format(n=_of(off.name))} "
                f"at line {off.line}, so autograd recorded no graph to differentiate."
                if off.api not in _INDEX_APIS
                else f"{call} was called on {what}, which has no grad_fn: the graph was cut where "
                f"it was computed, by the {off.api}(){_of(off.name)} at line {off.line}, which "
                "returns integer indices: no gradient flows through an index, so autograd "
                "recorded no graph to differentiate."
            )
            default = "logits" if off.api in _INDEX_APIS else "the tensor"
            hint = _HINTS[off.api].format(n=off.name or default, line=off.line)
            related = (Location(c.file, c.line, "backward raised here"),)
            file, line = off.file, off.line
        node = None
        if gid is not None and c.graph in (None, gid) and name:
            node = graph.by_name(name)
        f = Finding(
            kind=KIND,
            severity="error",
            message=message,
            hint=hint,
            file=file,
            line=line,
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


_INDEX_APIS = ("argmax", "argmin", "argsort")
_INDEX_HINT = (
    "Train on a differentiable loss of the scores themselves, not on what the indices from line "
    "{line} compute (an accuracy, a count of mistakes): e.g. "
    "`loss = nn.functional.cross_entropy({n}, y)` on the scores (y: the class labels); keep "
    "the accuracy for logging."
)
_WHAT = {
    "no_grad": "by the torch.no_grad() block",
    "set_grad_enabled": "by torch.set_grad_enabled(False)",
    "inference_mode": "by the torch.inference_mode() block",
    "detach": "by the .detach(){n}",
    "argmax": "by the argmax(){n}, which returns integer indices (no gradient flows through an "
    "index)",
    "argmin": "by the argmin(){n}, which returns integer indices (no gradient flows through an "
    "index)",
    "argsort": "by the argsort(){n}, which returns integer indices (no gradient flows through "
    "an index)",
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
    "argmax": _INDEX_HINT,
    "argmin": _INDEX_HINT,
    "argsort": _INDEX_HINT,
}


#: calls that copy their data into a new tensor, cutting it off the graph
_COPIES = ("tensor", "as_tensor", "Tensor", "FloatTensor", "DoubleTensor")


def _new_tensor(
    events: Events, c: BackwardCall, name: str | None
) -> tuple[str, str, str | None, int | None] | None:
    """Message, hint and line when the root was made by ``torch.tensor(losses)``: a new tensor
    holding the values of tensors that had graphs (``loss = torch.tensor(losses).mean()``)."""
    err = events.error
    if name is None or err is None or err.site is None or c.error is None:
        return None
    if c.error.splitlines()[0] != err.message.strip().splitlines()[0]:
        return None  # not the call that raised the script's exception
    made = _statement.tensor(err.site, name)
    if made is None or made.text is None or made.line is None:
        return None
    for call in _statement.calls_to(made.text, *_COPIES):
        func = _statement.segment(made.text, call.func)
        data = _statement.argument(call, 0, "data")
        if not func.startswith("torch.") or data is None:
            continue
        src = _statement.segment(made.text, data)
        fixed = made.text.replace(_statement.segment(made.text, call), f"torch.stack({src})", 1)
        message = (
            f"{name}.backward() was called on {name}, made by {func}({src}) at line {made.line}: "
            f"{func}() copies the values of the tensors in {src} into a new tensor with no graph, "
            "so backward cannot reach what computed them."
        )
        hint = (
            f"Stack the tensors instead, which keeps their graphs: `{fixed.strip()}` "
            f"(`torch.stack({src})`; keep the loss tensors themselves in {src}, not "
            "loss.item())."
        )
        return message, hint, made.file, made.line
    return None


#: names a training script gives the tensors it trains, most likely first
_TRAINED = re.compile(r"^(w|W|weights?|b|bias|theta|params?|coef\w*|[wW]\d+|[bB]\d+)$")
_LOOKBACK = 200  # source lines searched for the root's assignment


def _leaf_to_train(file: str | None, line: int | None, root: str | None) -> tuple[str, int] | None:
    """``("w", 17)``: a plain name in the statement that last assigned ``root`` before ``line``
    (``loss = (w * x).sum()`` at 17), preferring one a script trains (``w``, ``weight``,
    ``theta``), else the first; None when the source does not show it."""
    if not file or not line or not root or not root.isidentifier():
        return None
    assign = re.compile(rf"^\s*{re.escape(root)}\s*(:[^=]*)?=[^=]")
    for k in range(line - 1, max(0, line - _LOOKBACK), -1):
        text = source_line(file, k)
        if not assign.match(text):
            continue
        stmt = _statement.parse(text.strip())
        value = getattr(stmt, "value", None)
        if value is None:
            return None
        called = {id(n.func) for n in ast.walk(value) if isinstance(n, ast.Call)}
        bases = {id(n.value) for n in ast.walk(value) if isinstance(n, ast.Attribute)}
        names = [
            n.id
            for n in ast.walk(value)
            if isinstance(n, ast.Name) and id(n) not in called and id(n) not in bases
        ]
        names = sorted(set(names), key=names.index)
        if not names:
            return None
        trained = [n for n in names if _TRAINED.match(n)]
        return (trained or names)[0], k
    return None


def _of(name: str | None) -> str:
    return f" of {name}" if name else ""


def _switched_off(c: BackwardCall, offs: list[GradOff]) -> GradOff | None:
    """The latest place gradients were switched off since the backward call before ``c`` (an
    ``argmax()`` only when nothing else switched them off)."""
    since = [g for g in offs if g.after_call == c.index - 1 and g.api in _WHAT]
    # an argmax computed for logging beside a real cut (no_grad, detach) is not the cause
    cuts = [g for g in since if g.api not in _INDEX_APIS] or since
    return max(cuts, key=lambda g: g.index) if cuts else None


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
