"""ddp-param-ready-twice: DDP got two gradients for one parameter in one backward pass.

``DistributedDataParallel`` (with ``find_unused_parameters=True``) lets each parameter's
gradient hook fire once per iteration. A parameter used inside several *reentrant* checkpoints
(``checkpoint(..., use_reentrant=True)``: each segment runs a backward of its own) or outside
``forward`` fires it twice, and the backward raises (torch 2.13's text)::

    RuntimeError: Expected to mark a variable ready only once. This error is caused by one of
    the following reasons: 1) Use of a module parameter outside the `forward` function. ...
    Parameter at index 1 with name shared.bias has been marked as ready twice. ...

The finding is on the graph of the backward call that raised, at its line, on the parameter DDP
names (DDP's names are the unwrapped model's, as graphscope's are); it lists the reentrant
checkpoint segments the graph holds (opaque ``CheckpointFunction`` nodes), which is where the
second gradient came from. That backward was cut short, so the ``no-grad-param`` findings of its
graph are dropped (:func:`graphscope.checks.run_checks`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from graphscope.checks._common import ddp_error
from graphscope.checks.catalogue import Entry
from graphscope.model import OP, AutogradGraph, BackwardCall, Events, Finding, Location

KIND = "ddp-param-ready-twice"

#: the start of DDP's error (torch 2.13, reducer.cpp)
MARK = "Expected to mark a variable ready only once"
_NAME = re.compile(r"Parameter at index (\d+) with name (\S+) has been marked as ready twice")
_CHECKPOINT = "CheckpointFunction"


def check(graph: AutogradGraph, events: Events) -> Iterator[Finding]:
    """The finding on the graph of the backward call that raised DDP's error."""
    text = ddp_error(events, MARK)
    call = _failed_call(events)
    if text is None or call is None or call.graph != graph.graph.get("id"):
        return
    name = _name_in(text)
    segments = [
        (d.get("file"), d.get("line"))
        for _, d in graph.nodes(data=True)
        if d.get("kind") == OP and _CHECKPOINT in str(d.get("name"))
    ]
    node = graph.by_name(name) if name else None
    if node is None:
        node = next(
            (n for n, d in graph.nodes(data=True) if _CHECKPOINT in str(d.get("name"))), None
        )
    yield _finding(name, segments, call.file, call.line, node, graph.graph.get("id"))


def from_error(events: Events) -> Iterator[Finding]:
    """The finding from DDP's text alone (no captured graph of that backward)."""
    text = ddp_error(events, MARK)
    if text is None:
        return
    call = _failed_call(events)
    err = events.error
    file, line = (call.file, call.line) if call else (err.file, err.line) if err else (None, None)
    yield _finding(_name_in(text), [], file, line, None, None)


def _finding(
    name: str | None,
    segments: list[tuple[str | None, int | None]],
    file: str | None,
    line: int | None,
    node: str | None,
    graph: str | None,
) -> Finding:
    who = name or "a parameter"
    where = f" at line {line}" if line is not None else ""
    lines = sorted({line for _, line in segments if line is not None})
    if len(segments) > 1:
        at = f" (lines {', '.join(str(n) for n in lines)})" if lines else ""
        why = (
            f"the graph holds {len(segments)} reentrant checkpoint segments{at}, each running a "
            f"backward of its own through {who}"
        )
    else:
        why = (
            f"{who} is used in several reentrant backward passes (checkpoints) or outside the "
            "model's forward"
        )
    return Finding(
        kind=KIND,
        severity="error",
        message=(
            f"DistributedDataParallel got the gradient of {who} twice in the backward{where}: "
            f"{why}, and DDP lets each parameter be ready only once per iteration."
        ),
        hint=(
            "Use torch.utils.checkpoint.checkpoint(..., use_reentrant=False) (it runs inside the "
            "one backward); or pass static_graph=True to DistributedDataParallel if the model's "
            "graph is the same at every step; or use the parameter only inside forward."
        ),
        file=file,
        line=line,
        node=node,
        graph=graph,
        related=tuple(Location(f, n, "reentrant checkpoint") for f, n in segments if n),
        badge="gradient ready twice (DDP)",
    )


def _failed_call(events: Events) -> BackwardCall | None:
    for c in reversed(events.backward):
        if c.error is not None and MARK in c.error:
            return c
    return None


def _name_in(text: str) -> str | None:
    m = _NAME.search(text)
    return m.group(2) if m else None


#: torch's messages this kind explains (see :mod:`graphscope.checks.catalogue`)
MESSAGES = (
    Entry(
        KIND,
        (r"Expected to mark a variable ready only once",),
        explain=lambda events, err: from_error(events),
        example="Expected to mark a variable ready only once. This error is caused by one of the following reasons:",
        caught=True,
    ),
)
