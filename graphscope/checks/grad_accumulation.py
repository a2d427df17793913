"""grad-accumulation: a leaf's ``.grad`` summed the gradients of 2+ backward calls.

Reads ``events.grads`` (one :class:`~graphscope.model.GradUpdate` per leaf per backward call).
A *run* starts at an update whose gradient was reset before it (``before`` is ``"none"`` or
``"zero"``, or the first update seen) and goes on while the next updates found the previous
gradient still there (``"kept"``, or ``"changed"``: modified by the user but not reset). A run of
two or more updates is accumulation.

Severity: ``warning`` when an optimizer step happened *inside* the run (after one of its
backward calls and before the next): the gradient the step used was never cleared, so the next
step adds old gradients to new ones (the forgotten ``zero_grad()``). ``info`` otherwise: summing
micro-batches and then stepping once is legitimate, as is ``backward(retain_graph=True)`` twice.

One finding per leaf and source line: a training loop that accumulates in every step gives one
finding that says how many times it happened.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from graphscope.model import (
    AutogradGraph,
    Events,
    Finding,
    GradUpdate,
    Location,
    OptimizerStep,
    format_number,
    summary_text,
)

KIND = "grad-accumulation"

_RESETS = ("none", "zero")
_SHOWN = 6  # values shown in a history before eliding the middle


def check(graph: AutogradGraph, events: Events) -> Iterator[Finding]:
    """Findings for leaves whose gradient was summed over backward calls without a reset."""
    by_leaf: dict[str, list[GradUpdate]] = {}
    for u in sorted(events.grads, key=lambda u: u.call):
        by_leaf.setdefault(u.name, []).append(u)
    for name, updates in by_leaf.items():
        groups: dict[tuple[str | None, int | None], list[list[GradUpdate]]] = {}
        for run in _runs(updates):
            first_kept = run[1]
            groups.setdefault((first_kept.file, first_kept.line), []).append(run)
        for runs in groups.values():
            yield _finding(graph, events.steps, name, runs)


def _runs(updates: Sequence[GradUpdate]) -> Iterator[list[GradUpdate]]:
    """Maximal runs of updates that summed into one gradient, of length 2 or more."""
    run: list[GradUpdate] = []
    for u in updates:
        if run and u.before not in _RESETS:
            run.append(u)
            continue
        if len(run) >= 2:
            yield run
        run = [u]
    if len(run) >= 2:
        yield run


def _steps_inside(run: Sequence[GradUpdate], steps: Sequence[OptimizerStep]) -> list[OptimizerStep]:
    first, last = run[0].call, run[-1].call
    return [s for s in steps if first <= s.after_call < last]


def _finding(
    graph: AutogradGraph, steps: Sequence[OptimizerStep], name: str, runs: list[list[GradUpdate]]
) -> Finding:
    stepped = [(run, _steps_inside(run, steps)) for run in runs]
    bad = [(run, inside) for run, inside in stepped if inside]
    run, inside = bad[0] if bad else stepped[0]
    shown = _grad_of(graph, name)
    values = _history(run)
    first_kept = run[1]
    message = f"{shown} accumulated over {len(run)} backward calls without being zeroed: {values}"
    if inside:
        where = f" at line {inside[0].line}" if inside[0].line is not None else ""
        n = len(inside)
        message = (
            f"{shown} kept accumulating across {n} optimizer step{'s' if n > 1 else ''} "
            f"({inside[0].optimizer}.step(){where}) because it was never zeroed: {values}"
        )
    if len(runs) > 1:
        message += f" (this happened {len(runs)} times)"
    if inside:
        hint = (
            "Call optimizer.zero_grad() (or set .grad = None) once per training step, before "
            "loss.backward(), so each step uses only its own gradient."
        )
    else:
        hint = (
            "backward() adds to .grad; if you did not mean to sum these gradients (as when "
            "accumulating micro-batches), reset them with optimizer.zero_grad() or "
            f"{shown} = None before each backward call."
        )
    related = []
    if run[0].line is not None and (run[0].file, run[0].line) != (first_kept.file, first_kept.line):
        related.append(Location(run[0].file, run[0].line, "first backward of the sum"))
    related.extend(
        Location(s.file, s.line, f"{s.optimizer}.step() used the summed gradient") for s in inside
    )
    node = _node(graph, name, run[-1].call)
    return Finding(
        kind=KIND,
        severity="warning" if inside else "info",
        message=message,
        hint=hint,
        file=first_kept.file,
        line=first_kept.line,
        node=node,
        graph=graph.graph.get("id") if node is not None else None,
        related=tuple(related),
        badge=f"grad {_history(run, short=True)}",
    )


def _history(run: Sequence[GradUpdate], short: bool = False) -> str:
    """``5 → 10 → 15``; ``short`` (for the picture) gives norms for multi-element gradients."""
    values = [_value(u.grad, short) for u in run]
    if short and values and all(v.startswith("norm ") for v in values):
        values = ["norm " + values[0][5:], *(v[5:] for v in values[1:])]
    if len(values) > _SHOWN:
        values = values[: _SHOWN - 2] + ["…", values[-1]]
    return " → ".join(values)


def _value(summary: Mapping[str, Any] | None, short: bool = False) -> str:
    """``5`` for a one-element gradient, ``[1, 2]`` for a few (not ``short``), else ``norm 3.2``."""
    if not summary:
        return "?"
    first = summary.get("first") or []
    numel = summary.get("numel", len(first))
    if numel == 1 and first:
        return format_number(first[0])
    if not short and numel <= 4 and len(first) == numel:
        return summary_text(summary)
    if "norm" in summary:
        return f"norm {format_number(summary['norm'])}"
    return "?"


def _node(graph: AutogradGraph, name: str, call: int) -> str | None:
    node = graph.by_name(name)
    if node is None and call in (graph.graph.get("calls") or ()) and name in graph:
        node = name  # watch names an unnamed leaf by its node id in the graph of that call
    return node


def _grad_of(graph: AutogradGraph, name: str) -> str:
    """``w.grad``; for a leaf the user did not name (watch then uses its node id), its label."""
    if graph.by_name(name) is not None or not re.fullmatch(r"n\d+", name):
        return f"{name}.grad"
    label = graph.nodes[name].get("label") if name in graph else None
    return f"the .grad of an unnamed leaf {label}" if label else "the .grad of an unnamed leaf"
