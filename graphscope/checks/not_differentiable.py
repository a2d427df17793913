"""not-differentiable: backward reached an operation torch has no derivative for (with respect to
the argument that needed one).

torch's words (2.2 to 2.13)::

    the derivative for 'igamma: input' is not implemented.
    the derivative for '_cdist_backward' is not implemented.

torch raises it in ``backward()``, but the cause is the forward line that used the operation:
the finding's line is the node of that operation in the graph captured at the failing backward
call (``IgammaBackward0`` at ``p = dist.cdf(x)``), the backward call is ``related``. The hint
says which argument has no derivative; for the Gamma distribution's CDF (``igamma`` with respect
to the concentration) it gives a differentiable replacement, the integral of the density.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphscope.checks.catalogue import Entry, TorchError
from graphscope.model import OP, Events, Finding, Location

KIND = "not-differentiable"

_DERIVATIVE = r"the derivative for '(?P<op>[^':]+)(?::\s*(?P<arg>[^']+))?' is not implemented"

#: fixes for the operations users meet most, by torch's name of the op
_FIXES = {
    "igamma": (
        "torch has no derivative of the regularized incomplete gamma function (Gamma(...).cdf, "
        "torch.special.gammainc) with respect to its first argument, the concentration. If the "
        "concentration must learn from this term, integrate the density instead, which torch "
        "differentiates: `t = torch.linspace(1e-6, 1.0, 2001)` (0 to the point x), then "
        "`cdf = torch.trapezoid(dist.log_prob(t).exp(), t)` (dist: your Gamma distribution)."
    ),
}
_FIXES["igammac"] = _FIXES["igamma"]


def _explain(events: Events, err: TorchError) -> Iterator[Finding]:
    op = err.match["op"] if err.match else "this operation"
    arg = err.match["arg"] if err.match and err.match["arg"] else None
    node = _node(err, op)
    with_respect = f" with respect to its argument `{arg}`" if arg else ""
    message_where = ""
    file, line = err.file, err.line
    related: tuple[Location, ...] = ()
    if node is not None:
        name, file, line = node
        message_where = f" ({name}, made at line {line})"
        related = (Location(err.file, err.line, "backward called here"),)
    hint = _FIXES.get(op.lstrip("_"), None) or (
        f"torch implements no derivative of {op}{with_respect}. If what flows into it there must "
        "learn, compute the same value with operations torch can differentiate; if it needs no "
        "gradient through this term, pass that argument detached (`.detach()`) there."
    )
    yield Finding(
        KIND,
        "error",
        f"Backward reached {op}{message_where}, and torch has no derivative of it"
        f"{with_respect}: the gradient cannot flow through this operation.",
        hint,
        file,
        line,
        related=related,
    )


def _node(err: TorchError, op: str) -> tuple[str, str | None, int] | None:
    """The node of ``op`` in the graph of the failing backward call: (name, file, line)."""
    graph = err.graph()
    if graph is None:
        return None
    key = op.replace("_", "").lower()
    for _, d in graph.nodes(data=True):
        name = str(d.get("name") or "")
        if d.get("kind") == OP and name.replace("_", "").lower().startswith(key + "backward"):
            line = d.get("line")
            if isinstance(line, int):
                return name, d.get("file"), line
    return None


#: torch's messages this kind explains (see :mod:`graphscope.checks.catalogue`)
MESSAGES = (
    Entry(
        KIND,
        (_DERIVATIVE,),
        explain=_explain,
        example="the derivative for 'igamma: input' is not implemented.",
    ),
)
