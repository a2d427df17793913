"""checkpoint-no-grad: a reentrant checkpoint whose inputs do not require grad cut the
parameters inside it off from the loss.

``checkpoint(block, x, use_reentrant=True)`` (long the default) runs ``block`` under
``no_grad`` and gives its output a graph only through its inputs: when none requires grad (the
first block of a network, fed the data), the output has no graph and the parameters of
``block`` get no gradient, so they never train. torch only warns "None of the inputs have
requires_grad=True. Gradients will be None", which does not say which parameters, or whether
it matters.

Reads ``events.checkpoints`` (:class:`~graphscope.model.CheckpointNoGrad`: such a call, the
parameters of the modules run inside it, and those whose ``.grad`` the next backward call left
unchanged). One warning per checkpoint line, listing the parameters left without a gradient,
at the checkpoint call; related: the backward call. No finding when no backward call came after
it, or every parameter inside still got its gradient (also used outside the checkpoint). In
the picture the finding sits on the first of those parameters, drawn unreached (``watch``
expects the parameters of modules run inside such a checkpoint).
``no-grad-param`` does not report these parameters (modules run only under ``no_grad`` are not
its candidates; :func:`graphscope.checks.run_checks` drops any that is named here).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from graphscope.checks._common import listed
from graphscope.model import TENSOR, AutogradGraph, Events, Finding, Location

KIND = "checkpoint-no-grad"

_REENTRANT = re.compile(r"use_reentrant\s*=\s*[^,)]+")


def check(graph: AutogradGraph, events: Events) -> Iterator[Finding]:
    """One finding per checkpoint line whose parameters got no gradient because of it."""
    for e in events.checkpoints:
        if not e.missing:
            continue
        after = next((c for c in events.backward if c.index == e.call), None)
        at = f" at line {after.line}" if after is not None and after.line is not None else ""
        n = len(e.missing)
        count = f"{n} parameters" if n > 1 else "parameter"
        node = _node(graph, e.missing)
        yield Finding(
            kind=KIND,
            severity="warning",
            message=(
                f"The reentrant checkpoint at line {e.line} got no input that requires grad, so "
                f"its output has no graph and the backward call{at} gave no gradient to the "
                f"{count} inside it: {listed(e.missing)}; they never train (torch only warned "
                '"None of the inputs have requires_grad=True. Gradients will be None").'
            ),
            hint=_hint(e.text),
            file=e.file,
            line=e.line,
            related=(Location(after.file, after.line, "backward call"),) if after else (),
            node=node,
            graph=graph.graph.get("id") if node is not None else None,
            badge="no gradient: reentrant checkpoint" if node is not None else None,
        )


def names(finding: Finding) -> set[str]:
    """The parameters a finding of this kind lists (for run_checks: one finding per cause)."""
    m = re.search(r"inside it: (.*); they never train", finding.message)
    return {n.strip() for n in m.group(1).split(",")} if m else set()


def _hint(text: str | None) -> str:
    fix = "use_reentrant=False"
    if text and _REENTRANT.search(text):
        code = _REENTRANT.sub(fix, text)
        return (
            f"Use the non-reentrant checkpoint, which gives the parameters inside their gradients "
            f"whatever the inputs: `{code}` (or make an input require grad)."
        )
    return (
        f"Pass {fix} to checkpoint() (the non-reentrant checkpoint gives the parameters inside "
        "their gradients whatever the inputs), or make an input require grad."
    )


def _node(graph: AutogradGraph, missing: tuple[str, ...]) -> str | None:
    """The first of ``missing`` drawn in the graph (unreached: greyed), if any."""
    first = None
    for n, d in graph.nodes(data=True):
        if d.get("kind") == TENSOR and d.get("reached", True) is False:
            if ({d.get("name"), *(d.get("aliases") or ())} & set(missing)) and first is None:
                first = n
    return first
