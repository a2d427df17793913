"""ddp-unused-param: DDP waited for gradients of parameters that the backward did not reach.

``DistributedDataParallel`` reduces every parameter's gradient across ranks. When a backward
never reaches some parameters (a module whose output is not part of the loss), the reduction of
that iteration never finishes and the *next* forward raises (torch 2.13's text)::

    RuntimeError: Expected to have finished reduction in the prior iteration before starting a
    new one. This error indicates that your module has parameters that were not used in
    producing loss. ...
    Parameter indices which did not receive grad for rank 0: 4 5

(with ``TORCH_DISTRIBUTED_DEBUG=INFO`` also ``Parameters which did not receive grad for rank 0:
aux.bias, aux.weight``). graphscope knows which parameters the captured backward reached: the
finding names the unreached ones of the graph of the last backward before the error (DDP's own
names when its message lists them), at that backward's line; ``related`` is the forward that
raised. It replaces the ``no-grad-param`` findings of that graph (one finding per cause).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from graphscope.checks._common import ddp_error
from graphscope.checks.catalogue import Entry
from graphscope.model import (
    ROLE_PARAM,
    TENSOR,
    AutogradGraph,
    BackwardCall,
    Events,
    Finding,
    Location,
)

KIND = "ddp-unused-param"

#: the start of DDP's error (torch 2.13, reducer.cpp)
MARK = "Expected to have finished reduction in the prior iteration before starting a new one"
_NAMES = re.compile(r"Parameters which did not receive grad for rank \d+: ([^\n]+)")
_INDICES = re.compile(r"Parameter indices which did not receive grad for rank \d+: ([\d ]+)")


def check(graph: AutogradGraph, events: Events) -> Iterator[Finding]:
    """The finding on the graph of the last backward that ran before DDP's error."""
    text = ddp_error(events, MARK)
    if text is None:
        return
    call = _last_good_call(events)
    if call is None or call.graph is None or graph.graph.get("id") != call.graph:
        return
    unreached = _unreached(graph)
    names = _names_in(text) or [name for name, _ in unreached]
    nodes = dict(unreached)
    node = next((nodes[n] for n in names if n in nodes), None)
    yield _finding(text, names, call.file, call.line, events, node, call.graph)


def from_error(events: Events) -> Iterator[Finding]:
    """The finding from DDP's text alone (no captured graph to read the parameters from)."""
    text = ddp_error(events, MARK)
    if text is None:
        return
    call = _last_good_call(events)
    file, line = (call.file, call.line) if call is not None else (None, None)
    yield _finding(text, _names_in(text), file, line, events, None, None)


def _finding(
    text: str,
    names: list[str],
    file: str | None,
    line: int | None,
    events: Events,
    node: str | None,
    graph: str | None,
) -> Finding:
    shown = _join(names) if names else "some parameters"
    where = f" at line {line}" if line is not None else ""
    err = events.error
    then = f"the next forward (line {err.line}) raised" if err and err.line else "DDP raised"
    indices = _INDICES.search(text)
    by_index = (
        f" (DDP's message lists them by index: {indices.group(1).strip()})" if indices else ""
    )
    them = shown if names else "every parameter"
    return Finding(
        kind=KIND,
        severity="error",
        message=(
            f"DistributedDataParallel waited for the gradients of {shown}, but the backward"
            f"{where} never reached {'it' if len(names) == 1 else 'them'}, so DDP's gradient "
            f"reduction never finished and {then}{by_index}."
        ),
        hint=(
            f"Make the loss use {them} at every step (or remove what is unused from the model); "
            "or pass find_unused_parameters=True to DistributedDataParallel (it then marks "
            "unused parameters ready at every step, at some cost); or static_graph=True when the "
            "same parameters are unused at every step."
        ),
        file=file,
        line=line,
        node=node,
        graph=graph,
        related=(Location(err.file, err.line, "DDP raised here"),) if err and err.line else (),
        badge="no gradient: DDP waits for it",
    )


def _last_good_call(events: Events) -> BackwardCall | None:
    """The last backward call that finished (DDP raises at the forward after it)."""
    for c in reversed(events.backward):
        if c.error is None:
            return c
    return None


def _unreached(graph: AutogradGraph) -> list[tuple[str, str]]:
    """``(name, node)`` of the parameters in ``graph`` that its backward did not reach."""
    out = []
    for node, d in graph.nodes(data=True):
        if d.get("kind") == TENSOR and d.get("role") == ROLE_PARAM and not d.get("reached", True):
            out.append((str(d.get("name") or d.get("label")), node))
    return out


def _names_in(text: str) -> list[str]:
    m = _NAMES.search(text)
    return [n.strip() for n in m.group(1).split(",") if n.strip()] if m else []


def _join(names: list[str]) -> str:
    if len(names) > 6:
        return ", ".join(names[:6]) + f" and {len(names) - 6} more"
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


#: torch's messages this kind explains (see :mod:`graphscope.checks.catalogue`)
MESSAGES = (
    Entry(
        KIND,
        (r"Expected to have finished reduction in the prior iteration before starting a new one",),
        explain=lambda events, err: from_error(events),
        example="Expected to have finished reduction in the prior iteration before starting a new one. This error indicates that your module has parameters that were not used in producing loss.",
        caught=True,
    ),
)
