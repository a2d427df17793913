"""gradient-shape: the gradient given to ``backward(gradient=...)`` or ``torch.autograd.grad(...,
grad_outputs=...)`` does not have the output's shape.

torch's words (2.2 to 2.13)::

    Mismatch in shape: grad_output[0] has a shape of torch.Size([3]) and output[0] has a shape
    of torch.Size([3, 1]).

The finding is at the backward call (where ``gradient=`` is written) and names the output from
the call; the fix reshapes the given gradient to the output's shape, or builds it with
``torch.ones_like(output)``.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Iterator

from graphscope.checks import _statement as st
from graphscope.checks.catalogue import Entry, TorchError
from graphscope.model import Events, Finding

KIND = "gradient-shape"

_SHAPE = (
    r"Mismatch in shape: grad_output\[(?P<i>\d+)\] has a shape of (?P<got>torch\.Size\(\[[^\]]*\]\)) "
    r"and output\[\d+\] has a shape of (?P<want>torch\.Size\(\[[^\]]*\]\))"
)


def _size(text: str) -> str:
    """``torch.Size([3, 1])`` -> ``(3, 1)``."""
    dims = [d.strip() for d in re.sub(r"^torch\.Size\(\[|\]\)$", "", text).split(",") if d.strip()]
    return f"({dims[0]},)" if len(dims) == 1 else f"({', '.join(dims)})"


_ASSIGN = (
    r"attempting to assign a gradient of size '(?P<got>[^']*)' to a tensor of size "
    r"'(?P<want>[^']*)'"
)
_ASSIGN_OLD = r"assigned grad has data of a different size"


def _assigned(events: Events, err: TorchError) -> Iterator[Finding]:
    """``w.grad = g`` with ``g`` of another size than ``w``."""
    site = err.script.site if err.script is not None else None
    text = site.text if site is not None else None
    stmt = st.parse(text)
    target = value = None
    if text is not None and isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        t = stmt.targets[0]
        if isinstance(t, ast.Attribute) and t.attr == "grad":
            target, value = st.segment(text, t.value), st.segment(text, stmt.value)
    m = err.match
    got = m.groupdict().get("got") if m else None
    want = m.groupdict().get("want") if m else None
    sizes = f" ({got})" if got else ""
    shape = f" ({want})" if want else ""
    if target is None or value is None:
        yield Finding(
            KIND,
            "error",
            f"A gradient{sizes} was assigned to .grad of a tensor of another size{shape}: a "
            "tensor's .grad must have its shape.",
            "Reshape the gradient to the tensor's shape before assigning it: "
            "`w.grad = g.reshape(w.shape)`.",
            err.file,
            err.line,
        )
        return
    fitted = _fitted(value, target, got or "", want or "")
    yield Finding(
        KIND,
        "error",
        f"`{text}` assigns a gradient of size {got or '?'} to {target}.grad, but {target} has size "
        f"{want or '?'}: a tensor's .grad must have the tensor's shape (the optimizer adds it "
        "element by element).",
        f"Give it {target}'s shape: `{target}.grad = {fitted}`.",
        err.file,
        err.line,
    )


def _dims(text: str) -> list[int]:
    return [int(d) for d in re.findall(r"\d+", text)]


def _fitted(given: str, output: str, got: str, want: str) -> str:
    """The given gradient made to fit: reshaped (same number of elements), expanded (it
    broadcasts), or ``torch.ones_like(output)``."""
    g, w = _dims(got), _dims(want)
    simple = re.fullmatch(r"[\w.]+", given) is not None
    if not simple or not w:
        return f"torch.ones_like({output})"
    if math.prod(g) == math.prod(w):
        return f"{given}.reshape({output}.shape)"
    fits = len(g) <= len(w) and all(
        a in (1, b) for a, b in zip(reversed(g), reversed(w), strict=False)
    )
    return f"{given}.expand_as({output})" if fits else f"torch.ones_like({output})"


def _shape(events: Events, err: TorchError) -> Iterator[Finding]:
    site = err.script.site if err.script is not None else None
    text = site.text if site is not None else None
    m = err.match
    got, want = (_size(m["got"]), _size(m["want"])) if m else ("?", "?")
    i = int(m["i"]) if m else 0
    output, given, call, keyword = None, None, None, "gradient"
    backward = st.calls_to(text, "backward")
    grad = st.calls_to(text, "grad")
    if backward and text is not None:
        call = backward[0]
        output = st.segment(text, call.func.value) if hasattr(call.func, "value") else None
        arg = st.argument(call, 0, "gradient")
        given = st.segment(text, arg) if arg is not None else None
    elif grad and text is not None:
        call, keyword = grad[0], "grad_outputs"
        out_arg = st.argument(call, 0, "outputs")
        output = st.segment(text, out_arg) if out_arg is not None else None
        arg = st.argument(call, 2, "grad_outputs")
        given = st.segment(text, arg) if arg is not None else None
    if err.call is not None and output is None:
        output = err.call.roots[i] if i < len(err.call.roots) and err.call.roots[i] != "?" else None
    name = output or "the output"
    message = (
        f"The gradient passed as {keyword}= ({given}) has shape {got}, but {name} has shape "
        f"{want}: backward needs one gradient value per element of the output, in its shape."
        if given
        else f"The gradient passed as {keyword}= has shape {got}, but {name} has shape {want}: "
        "backward needs one gradient value per element of the output, in its shape."
    )
    if call is not None and text is not None and given is not None and output is not None:
        value = _fitted(given, output, m["got"] if m else "", m["want"] if m else "")
        fixed = st.with_keyword(text, call, keyword, value, 0 if keyword == "gradient" else 2)
        hint = (
            f"Give a gradient of {name}'s shape {want}: `{fixed}` "
            f"(or {keyword}=torch.ones_like({output}) to weigh every element by 1)."
        )
    else:
        hint = (
            f"Give a gradient of the output's shape {want}, e.g. gradient=torch.ones_like(y), or "
            "reshape the one you pass to the output's shape."
        )
    yield Finding(KIND, "error", message, hint, err.file, err.line)


#: torch's messages this kind explains (see :mod:`graphscope.checks.catalogue`)
MESSAGES = (
    Entry(
        KIND,
        (_SHAPE,),
        explain=_shape,
        example="Mismatch in shape: grad_output[0] has a shape of torch.Size([3]) and output[0] "
        "has a shape of torch.Size([3, 1]).",
    ),
    Entry(
        KIND,
        (_ASSIGN, _ASSIGN_OLD),
        explain=_assigned,
        example="attempting to assign a gradient of size '[12]' to a tensor of size '[4, 3]'. "
        "Please ensure that the gradient and the tensor are the same size",
    ),
)
