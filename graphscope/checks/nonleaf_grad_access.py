"""nonleaf-grad-access: ``.grad`` of a non-leaf tensor read without ``retain_grad()``.

Reads ``events.grad_reads`` (``watch`` records a read that returned None on a non-leaf that does
not retain its gradient). One warning per reading line and tensor.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphscope.model import AutogradGraph, Events, Finding

KIND = "nonleaf-grad-access"


def check(graph: AutogradGraph, events: Events) -> Iterator[Finding]:
    """One finding per ``.grad`` read of a non-leaf tensor."""
    seen: set[tuple[object, ...]] = set()
    for r in events.grad_reads:
        name = r.name
        node = graph.by_name(name) if name else None
        what = name or "this tensor"
        made = " (it was computed by an operation)" if r.grad_fn else ""
        message = (
            f"{what}.grad is None: {what} is not a leaf{made}, and only leaf tensors keep "
            ".grad after backward."
            if name
            else f"This .grad is None: the tensor is not a leaf{made}, and only leaf tensors keep "
            ".grad after backward."
        )
        f = Finding(
            kind=KIND,
            severity="warning",
            message=message,
            hint=(
                f"Call {name or 'the tensor'}.retain_grad() before backward to keep its gradient, "
                "or read the .grad of a leaf (a tensor created with requires_grad=True)."
            ),
            file=r.file,
            line=r.line,
            node=node,
            graph=graph.graph.get("id") if node is not None else None,
            badge=".grad is None (not a leaf)",
        )
        if f.key() not in seen:
            seen.add(f.key())
            yield f
