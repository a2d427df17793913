"""numpy-requires-grad: ``.numpy()`` on a tensor that requires grad.

torch's words (2.2 to 2.13)::

    Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.

A NumPy array cannot carry autograd's history, so torch refuses to hand one out of a tensor that
has it. The finding is at the ``.numpy()`` call, names the tensor (a parameter, or a value
computed from one), and the fix is ``.detach()`` before ``.numpy()`` (``.cpu()`` too when the
tensor is on a GPU).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from graphscope.checks import _statement as st
from graphscope.checks.catalogue import Entry, TorchError
from graphscope.model import Events, Finding

KIND = "numpy-requires-grad"

_NUMPY = r"Can't call numpy\(\) on Tensor that requires grad"


def _numpy(events: Events, err: TorchError) -> Iterator[Finding]:
    site = err.script.site if err.script is not None else None
    text = site.text if site is not None else None
    call = next((c for c in st.calls_to(text, "numpy") if isinstance(c.func, ast.Attribute)), None)
    if call is None or text is None or not isinstance(call.func, ast.Attribute):
        yield Finding(
            KIND,
            "error",
            ".numpy() was called on a tensor that requires grad: a NumPy array cannot carry "
            "autograd's history.",
            "Detach it first: `y.detach().numpy()` (a view without history; add .cpu() for a "
            "tensor on a GPU).",
            err.file,
            err.line,
        )
        return
    of = st.segment(text, call.func.value)
    named = st.tensor(site, of)
    why = (
        "a parameter that requires grad"
        if named is not None and named.is_leaf
        else f"computed from tensors that require grad (grad_fn {named.grad_fn})"
        if named is not None and named.grad_fn
        else "a tensor that requires grad"
    )
    old = st.segment(text, call)
    new = f"{of}.detach().numpy()"
    fixed = text.replace(old, new, 1)
    yield Finding(
        KIND,
        "error",
        f"`{old}` asks for a NumPy array of {of}, {why}: a NumPy array cannot carry autograd's "
        "history, so torch refuses.",
        f"Detach it first (the values are the same, without the history): `{fixed}`.",
        err.file,
        err.line,
    )


#: torch's messages this kind explains (see :mod:`graphscope.checks.catalogue`)
MESSAGES = (
    Entry(
        KIND,
        (_NUMPY,),
        explain=_numpy,
        example="Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
        "instead.",
    ),
)
