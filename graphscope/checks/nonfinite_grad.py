"""nonfinite-grad: NaN or Inf first appears in a gradient at this node.

Reads ``events.nonfinite``: ``watch`` hooks the op nodes of each new graph and records the first
op whose output gradients are non-finite while its incoming ones were finite. The line is the
forward line that created that op.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphscope.model import AutogradGraph, Events, Finding

KIND = "nonfinite-grad"

_VALUES = {"nan": "NaN", "inf": "Inf", "nan+inf": "NaN and Inf"}


def check(graph: AutogradGraph, events: Events) -> Iterator[Finding]:
    """One finding per operation where a non-finite gradient first appears."""
    gid = graph.graph.get("id")
    seen: set[tuple[object, ...]] = set()
    for e in events.nonfinite:
        value = _VALUES.get(e.value, e.value)
        node = e.node if gid is not None and e.graph == gid and e.node in graph else None
        d = graph.nodes[node] if node is not None else {}
        forward = d.get("op")
        op = (e.op or "").removeprefix("torch::autograd::")
        if op and op != "AccumulateGrad":
            where = f"the backward of {forward} ({op})" if forward else op
        else:
            where = "this operation"
        at = " on this line" if e.line is not None else ""
        message = (
            f"The gradient first becomes {value} in {where}{at}, and every gradient computed from "
            "it downstream is non-finite too."
        )
        f = Finding(
            kind=KIND,
            severity="error",
            message=message,
            hint=(
                "Keep this operation's input where its derivative is finite (e.g. torch.sqrt(x + "
                "1e-12), torch.log(x.clamp_min(1e-12))), or mask values before the operation rather "
                "than after it."
            ),
            file=e.file,
            line=e.line,
            node=node,
            graph=gid if node is not None else None,
            badge=f"{value} first here",
        )
        if f.key() not in seen:
            seen.add(f.key())
            yield f
