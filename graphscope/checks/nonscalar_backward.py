"""nonscalar-backward: ``backward()`` on an output with more than one element, without ``gradient=``.

Reads ``events.backward``: a call that raised "grad can be implicitly created only for scalar
outputs", or a root whose shape holds more than one element when no gradient was given.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from graphscope.checks._common import error_finding
from graphscope.checks.catalogue import Entry, TorchError
from graphscope.model import AutogradGraph, BackwardCall, Events, Finding, Location

KIND = "nonscalar-backward"

MARK = "grad can be implicitly created only for scalar outputs"


def _hint(name: str | None) -> str:
    """The fix, in code when the output has a name (``y.sum().backward()``)."""
    if name is None:
        return (
            "Reduce the output to a single number first (its .sum() or .mean(), as a loss does), "
            "or pass gradient= (a tensor of its shape) to say how to weigh each element."
        )
    return (
        f"Reduce it to a single number first (`{name}.sum().backward()` or "
        f"`{name}.mean().backward()`, as a loss does), or pass a weight for each element: "
        f"`{name}.backward(gradient=torch.ones_like({name}))`."
    )


def check(graph: AutogradGraph, events: Events) -> Iterator[Finding]:
    """One finding per backward call on a non-scalar output without ``gradient=``."""
    gid = graph.graph.get("id")
    seen: set[tuple[object, ...]] = set()
    for c in events.backward:
        i = _offending_root(c)
        if i is None:
            continue
        name = c.roots[i] if i < len(c.roots) and c.roots[i] != "?" else None
        shape = c.root_shapes[i] if i < len(c.root_shapes) else None
        call = (
            "torch.autograd.grad()"
            if c.api == "grad"
            else f"{name}.backward()"
            if name
            else "backward()"
        )
        what = (
            f"{name}, which has shape {shape}"
            if name and shape is not None
            else (
                f"an output of shape {shape}"
                if shape is not None
                else "an output with more than one element"
            )
        )
        given = "grad_outputs=" if c.api == "grad" else "gradient="
        message = (
            f"{call} was called on {what}, without {given}: backward can only start from a single "
            "number (a scalar)."
        )
        node = None
        if gid is not None and c.graph in (None, gid) and name:
            node = graph.by_name(name)
        f = Finding(
            kind=KIND,
            severity="error",
            message=message,
            hint=_hint(name),
            file=c.file,
            line=c.line,
            node=node,
            graph=gid if node is not None else None,
            badge=f"backward on shape {shape}" if shape is not None else "non-scalar backward",
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
            "backward was called on an output with more than one element without gradient=: "
            "backward can only start from a single number (a scalar)."
        ),
        _hint(None),
    )


def _offending_root(c: BackwardCall) -> int | None:
    """Index of the root that is not a scalar, when this call is one to report."""
    nonscalar = [i for i, s in enumerate(c.root_shapes) if math.prod(s) != 1]
    if c.error and MARK in c.error:
        return nonscalar[0] if nonscalar else 0
    if c.error is None and not c.gradient_given and nonscalar:
        return nonscalar[0]
    return None


#: torch's messages this kind explains (see :mod:`graphscope.checks.catalogue`)
MESSAGES: tuple[Entry, ...] = (
    Entry(
        KIND,
        (r"grad can be implicitly created only for scalar outputs",),
        explain=lambda events, err: from_error(events),
        example="grad can be implicitly created only for scalar outputs",
    ),
)


_COMPLEX = (
    r"grad can be implicitly created only for real scalar outputs(?: but got (?P<dtype>\S+))?"
)


def _complex(events: Events, err: TorchError) -> Iterator[Finding]:
    """A complex loss: the fix goes where it is computed (a magnitude before squaring)."""
    site = err.script.site if err.script is not None else None
    calls = [n for n in (site.names if site else ()) if n.what == "tensor" and n.dtype]
    named = next((n for n in calls if "complex" in str(n.dtype)), None)
    dtype = err.match["dtype"] if err.match and err.match["dtype"] else "a complex dtype"
    name = named.name if named is not None else "loss"
    fixed = None
    if named is not None and named.text:
        if ".pow(2)" in named.text:
            fixed = named.text.replace(".pow(2)", ".abs().pow(2)", 1)
    where = (
        f" at line {named.line} (`{named.text}`)"
        if named is not None and named.line is not None
        else ""
    )
    hint = (
        f"Compute {name} from real values: the magnitude before squaring, `{fixed}`, or `.real` "
        "where only the real part counts."
        if fixed
        else f"Compute {name} from real values: magnitudes (`.abs()`, before squaring) or `.real` "
        "where only the real part counts; a loss must be a real number."
    )
    on_line = named is not None and named.line is not None and fixed is not None
    yield Finding(
        KIND,
        "error",
        f"backward() was called on {name}, a {dtype} number{where}: a loss to minimize must be "
        "a real number (complex numbers have no order), so backward cannot start from it.",
        hint,
        named.file if on_line and named is not None else err.file,
        named.line if on_line and named is not None else err.line,
        related=(Location(err.file, err.line, "backward called here"),) if on_line else (),
    )


MESSAGES = (
    *MESSAGES,
    Entry(
        KIND,
        (_COMPLEX,),
        explain=_complex,
        example="grad can be implicitly created only for real scalar outputs but got "
        "torch.complex64",
    ),
)
