"""backward-create-graph: ``backward(create_graph=True)``, which torch warns about.

torch's words (2.2 to 2.13), a ``UserWarning`` printed once per process::

    Using backward() with create_graph=True will create a reference cycle between the parameter
    and its gradient which can cause a memory leak. We recommend using autograd.grad when
    creating the graph to avoid this. ...

Reads ``events.backward``: a ``Tensor.backward`` / ``torch.autograd.backward`` call made with
``create_graph=True`` (the script runs; the warning is all torch says). The usual reason is a
penalty on the gradients (a gradient penalty, a Hessian-vector product) read from ``p.grad``;
the fix is ``torch.autograd.grad(loss, params, create_graph=True)``, whose gradients are returned
instead of stored in ``.grad``. ``info``: resetting ``.grad`` to None after use (the default
``zero_grad()``) breaks the cycle, so it may be harmless. One finding per line, at the call.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from graphscope.model import ROLE_PARAM, TENSOR, AutogradGraph, Events, Finding

KIND = "backward-create-graph"

_ROOT = re.compile(r"[A-Za-z_]\w*(?=[.\[])")


def check(graph: AutogradGraph, events: Events) -> Iterator[Finding]:
    """One finding per line that calls backward(create_graph=True), in its call's graph."""
    gid = graph.graph.get("id")
    seen: set[tuple[object, ...]] = set()
    for c in events.backward:
        if c.api != "backward" or not c.create_graph or c.graph not in (None, gid):
            continue
        if (c.file, c.line) in seen:
            continue
        seen.add((c.file, c.line))
        named = [r for r in c.roots if r != "?"]
        loss = named[0] if len(c.roots) == 1 and named else "loss"
        params = _params(graph) if gid is not None else "params"
        code = f"grads = torch.autograd.grad({loss}, {params}, create_graph=True)"
        node = graph.by_name(loss) if gid is not None else None
        yield Finding(
            kind=KIND,
            severity="info",
            message=(
                f"{loss}.backward(create_graph=True) at line {c.line} stores gradients that have "
                "a graph in each parameter's .grad: every parameter then refers to its gradient "
                "and the gradient back to it (a reference cycle), which keeps memory alive "
                "until .grad is reset; torch warns about it."
            ),
            hint=(
                f"Get the gradients you differentiate again from torch.autograd.grad, which "
                f"returns them instead of storing them in .grad: `{code}`, and use grads in "
                "place of p.grad; then call backward (without create_graph) on the loss that "
                "includes them."
            ),
            file=c.file,
            line=c.line,
            node=node,
            graph=gid if node is not None else None,
            badge="create_graph=True",
        )


def _params(graph: AutogradGraph) -> str:
    """``list(model.parameters())`` when the parameters reached belong to one module the user
    named, else ``params``."""
    roots = set()
    for _, d in graph.nodes(data=True):
        if d.get("kind") == TENSOR and d.get("role") == ROLE_PARAM and d.get("name"):
            name = str(d["name"])  # model[0].weight, model.fc.bias: the module's variable
            root = _ROOT.match(name)
            roots.add(root.group(0) if root and root.end() < len(name) else None)
    if len(roots) == 1 and None not in roots:
        return f"list({roots.pop()}.parameters())"
    return "params"
