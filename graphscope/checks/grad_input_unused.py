"""grad-input-unused: ``torch.autograd.grad`` asked for the gradient with respect to an input the
output was not computed from, or one that does not require grad.

torch's words (2.2 to 2.13)::

    The differentiated Tensor at index 1 appears to not have been used in the graph. Set
    allow_unused=True if this is the desired behavior.
    One of the differentiated Tensors appears to not have been used in the graph. ...
    One of the differentiated Tensors does not require grad

The first is at the ``grad`` call: the input is named from the call's ``inputs`` (``[w, b]``),
and the fix is dropping it or ``allow_unused=True``. The second is where the input was made: the
fix goes there (``x = torch.randn(3, requires_grad=True)``) and the call is ``related``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from graphscope.checks import _statement as st
from graphscope.checks.catalogue import Entry, TorchError
from graphscope.model import Events, Finding, Location

KIND = "grad-input-unused"

_UNUSED = (
    r"(?:The differentiated Tensor at index (?P<i>\d+)|One of the differentiated Tensors) "
    r"appears to not have been used in the graph"
)
_NO_GRAD = r"One of the differentiated Tensors does not require grad"


def _inputs(text: str | None) -> tuple[ast.Call | None, list[str]]:
    """The ``grad`` call on the statement and the source of each of its inputs (``[w, b]``:
    ``["w", "b"]``; a single tensor: its name; a list held in a variable: ``[]``)."""
    calls = st.calls_to(text, "grad")
    if not calls or text is None:
        return None, []
    call = calls[0]
    arg = st.argument(call, 1, "inputs")
    if arg is None:
        return call, []
    if isinstance(arg, (ast.List, ast.Tuple)):
        return call, [st.segment(text, e) for e in arg.elts]
    return call, [st.segment(text, arg)] if isinstance(arg, (ast.Name, ast.Attribute)) else []


def _unused(events: Events, err: TorchError) -> Iterator[Finding]:
    site = err.script.site if err.script is not None else None
    text = site.text if site is not None else None
    call, inputs = _inputs(text)
    index = int(err.match["i"]) if err.match and err.match["i"] else None
    name = inputs[index] if index is not None and index < len(inputs) else None
    outputs = st.segment(text, call.args[0]) if call is not None and call.args and text else None
    of = f" of {outputs}" if outputs else ""
    what = f"{name} (input {index})" if name else "one of the inputs"
    message = (
        f"torch.autograd.grad asked for the gradient{of} with respect to {what}, but "
        f"{outputs or 'the output'} was not computed from it, so there is no gradient to give."
    )
    hint = (
        "If the output should depend on it, use it in the forward pass (is it detached, or "
        "replaced by a copy?); if not, leave it out of the inputs, or pass allow_unused=True and "
        "get None for it (materialize_grads=True gives zeros)."
    )
    if call is not None and text is not None:
        fixed = st.with_keyword(text, call, "allow_unused", "True")
        hint += f" For example: `{fixed}`."
        if name is not None and len(inputs) > 1:
            rest = [i for i in inputs if i != name]
            kept = rest[0] if len(rest) == 1 else f"[{', '.join(rest)}]"
            hint += f" Or drop it: inputs {kept}."
    yield Finding(KIND, "error", message, hint, err.file, err.line)


def _no_grad(events: Events, err: TorchError) -> Iterator[Finding]:
    site = err.script.site if err.script is not None else None
    text = site.text if site is not None else None
    _, inputs = _inputs(text)
    off = [n for n in (st.tensor(site, i) for i in inputs) if n is not None and not n.requires_grad]
    if not off:
        yield Finding(
            KIND,
            "error",
            "torch.autograd.grad was asked for the gradient with respect to a tensor that does "
            "not require grad, so autograd recorded nothing to differentiate it by.",
            "Make the inputs you differentiate by with requires_grad=True (or call "
            "x.requires_grad_() before the forward pass that uses them).",
            err.file,
            err.line,
        )
        return
    n = off[0]
    fixed = st.with_requires_grad(n.text, n.name)
    hint = f"Make {n.name} require grad where it is made, before the forward pass uses it: " + (
        f"`{fixed}`." if fixed else f"`{n.name}.requires_grad_()` after line {n.line}."
    )
    yield Finding(
        KIND,
        "error",
        f"torch.autograd.grad asks for the gradient with respect to {n.name}, but {n.name} does "
        f"not require grad (made at line {n.line}), so autograd recorded nothing to "
        "differentiate it by.",
        hint,
        n.file if n.line is not None else err.file,
        n.line if n.line is not None else err.line,
        related=(Location(err.file, err.line, "torch.autograd.grad called here"),)
        if n.line is not None
        else (),
    )


#: torch's messages this kind explains (see :mod:`graphscope.checks.catalogue`)
MESSAGES = (
    Entry(
        KIND,
        (_UNUSED,),
        explain=_unused,
        example="The differentiated Tensor at index 1 appears to not have been used in the graph. "
        "Set allow_unused=True if this is the desired behavior.",
    ),
    Entry(
        KIND,
        (_NO_GRAD,),
        explain=_no_grad,
        example="One of the differentiated Tensors does not require grad",
    ),
)
