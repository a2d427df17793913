"""graph-grows: a repeated backward whose graph grows call after call through a carried state.

The usual answer to "Trying to backward through the graph a second time" on a recurrent model
is ``loss.backward(retain_graph=True)``. With the hidden state carried from batch to batch
without ``.detach()``, each backward call then goes through the current batch *and every
earlier one*: the graphs are kept, memory and time grow with every batch, and the gradients
sum stale contributions from old batches. No error is raised.

Reads ``events.backward`` (:attr:`~graphscope.model.BackwardCall.nodes`: the size of each call's
graph) and ``events.carries`` (:class:`~graphscope.model.GraphCarry`: an op took a tensor whose
graph was built before an earlier backward call). A finding needs all of:

* a run of at least :data:`MIN_CALLS` successful backward calls from one line whose graphs grow
  at every call and never shrink (truncated backpropagation through time with a periodic
  ``detach`` shrinks back, so it is not one; nor are variable-length batches, which go up
  and down);
* ``retain_graph=True`` on those calls (without it the second call would raise ``graph-freed``);
* a carried tensor whose old graph a later call of the run went back through
  (:attr:`~graphscope.model.GraphCarry.into_call`): the state that links each batch's graph to
  the previous one. A growing state that is detached carries nothing; a tensor kept for a second
  backward call from another line (an auxiliary loss) links that call, not the run.

Warning, at the line that carries the state (the training loop's, e.g. ``out, h = rnn(x, h)``);
related: the backward call with ``retain_graph=True``. A state updated on one line
(``h = torch.tanh(w * h + x)``) looks like a running total to ``graph-kept-alive``;
:func:`graphscope.checks.run_checks` keeps this finding for that line (one cause).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from graphscope.checks._carried_step import detach_hint
from graphscope.model import AutogradGraph, BackwardCall, Events, Finding, GraphCarry, Location

KIND = "graph-grows"

#: successive growing calls needed (3 growths): a short run is not yet a trend
MIN_CALLS = 4


def check(graph: AutogradGraph, events: Events) -> Iterator[Finding]:
    """One finding per carried state that makes a repeated backward's graph keep growing."""
    for carry, run in growing(events):
        yield _finding(carry, run, graph)


def growing(events: Events) -> list[tuple[GraphCarry, list[BackwardCall]]]:
    """``(carry, calls)`` for each carried tensor that links a growing run of backward calls."""
    out = []
    for run in _runs(events.backward):
        later = {c.index for c in run[1:]}
        carries = [k for k in events.carries if k.into_call in later]
        carries.sort(key=lambda k: k.same_site)  # a recurrent update before an accumulation
        if carries:
            out.append((carries[0], run))
    return out


def _runs(calls: Sequence[BackwardCall]) -> list[list[BackwardCall]]:
    """Per backward line: its successful calls when each one's graph is larger than the one
    before, from the first to the last, with ``retain_graph=True`` on all but the last."""
    by_site: dict[tuple[str | None, int | None], list[BackwardCall]] = {}
    for c in calls:
        by_site.setdefault((c.file, c.line), []).append(c)
    runs = []
    for site_calls in by_site.values():
        ok = [c for c in site_calls if c.error is None and c.nodes is not None]
        if len(ok) < MIN_CALLS or len(ok) != len(site_calls):
            continue
        sizes = [c.nodes or 0 for c in ok]
        if all(b > a for a, b in zip(sizes, sizes[1:], strict=False)) and all(
            c.retain_graph for c in ok[:-1]
        ):
            runs.append(ok)
    return runs


def _finding(carry: GraphCarry, run: list[BackwardCall], graph: AutogradGraph) -> Finding:
    last = run[-1]
    name = carry.name or "the state carried from one batch to the next"
    where = f" at line {last.line}" if last.line is not None else ""
    message = (
        f"The backward call{where} goes back through every earlier batch's graph: {name} "
        f"carries the previous batch's graph into the next one (line {carry.line}) and "
        f"retain_graph=True keeps them all, so the graph grew from {run[0].nodes} to "
        f"{last.nodes} backward nodes over {len(run)} calls (memory and time grow with every batch, and "
        "old batches keep adding to the gradients)."
    )
    hint = detach_hint(carry, last)
    node = _node(graph, carry, run)
    return Finding(
        kind=KIND,
        severity="warning",
        message=message,
        hint=hint,
        file=carry.file,
        line=carry.line,
        node=node,
        graph=graph.graph.get("id") if node is not None else None,
        related=(Location(last.file, last.line, "backward with retain_graph=True"),),
        badge=f"grows: {run[0].nodes} → {last.nodes} nodes",
    )


def _node(graph: AutogradGraph, carry: GraphCarry, run: list[BackwardCall]) -> str | None:
    """In the graph of the last captured growing call: the oldest op made at the carrying line
    (the first batch's, which every later backward still goes through), else the first root."""
    gid = graph.graph.get("id")
    if gid is None or gid != next((c.graph for c in reversed(run) if c.graph), None):
        return None
    ops = [
        (d.get("order", 0), n)
        for n in graph.op_nodes()
        if (d := graph.nodes[n]).get("line") == carry.line and d.get("file") == carry.file
    ]
    if ops:
        return min(ops)[1]
    roots = graph.roots()
    return roots[0] if roots else None
