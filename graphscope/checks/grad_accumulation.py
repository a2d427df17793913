"""grad-accumulation: a leaf's ``.grad`` summed the gradients of 2+ backward calls.

Reads ``events.grads`` (one :class:`~graphscope.model.GradUpdate` per leaf per backward call).
A *run* starts at an update whose gradient was reset before it (``before`` is ``"none"`` or
``"zero"``, or the first update seen) and goes on while the next updates found the previous
gradient still there (``"kept"``, or ``"changed"``: modified by the user but not reset). A run of
two or more updates is accumulation.

Severity is judged per optimizer: ``warning`` when one optimizer that covers the leaf stepped
twice (after different backward calls) inside the run, so its second step used gradients its
first step had already used (the forgotten ``zero_grad()``). ``info`` otherwise: summing
micro-batches and then stepping once is legitimate, as is ``backward(retain_graph=True)`` twice.
A run that no step used is not reported: a GAN's generator loss leaves gradients in the
discriminator after the discriminator's step, and the discriminator's ``zero_grad()`` clears
them before its own next step. A step covers a leaf when its
recorded parameters name it (a step recorded without names covers every leaf); a leaf that no
recorded step covers is left to ``param-not-in-optimizer``.

A leaf the user has no name for, in a script that made a named tensor from such a leaf (``w = w -
lr * w.grad``, ``W = torch.randn(3, requires_grad=True) * 0.01``: ``events.made_from_leaf``), is
not reported: its gradient piles up because of that line, which ``nonleaf-grad-access`` names.

One finding per cause: the leaves whose runs start at the same line with the same verdict are
listed in one finding, and a training loop that accumulates at every step says how many times.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from graphscope.checks._code import code_or_words, is_python
from graphscope.checks._common import listed, natural, optimizer_call
from graphscope.model import (
    ROLE_PARAM,
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


@dataclass
class _Verdict:
    """What one leaf's runs starting at one line amount to."""

    name: str
    runs: list[list[GradUpdate]]
    run: list[GradUpdate]  # the run the message shows
    inside: list[OptimizerStep]  # steps of the offending optimizer inside that run


def check(graph: AutogradGraph, events: Events) -> Iterator[Finding]:
    """Findings for leaves whose gradient was summed over backward calls without a reset."""
    covered = {n for s in events.steps for n in (*s.params, *s.holds)}
    recorded = any(s.recorded for s in events.steps)
    all_steps = list(events.steps)
    by_leaf: dict[str, list[GradUpdate]] = {}
    for u in sorted(events.grads, key=lambda u: u.call):
        by_leaf.setdefault(u.name, []).append(u)
    groups: dict[tuple[Any, ...], list[_Verdict]] = {}
    for name, updates in by_leaf.items():
        if recorded and name not in covered:
            continue  # no optimizer holds it: param-not-in-optimizer says so
        if events.made_from_leaf and _unnamed(graph, name):
            continue  # the leaf behind `w = w - lr * w.grad`: nonleaf-grad-access says so
        lines: dict[tuple[str | None, int | None], list[list[GradUpdate]]] = {}
        for run in _runs(updates):
            if _leftover(run, _next_call(updates, run), name, all_steps):
                continue
            lines.setdefault((run[1].file, run[1].line), []).append(run)
        for where, runs in lines.items():
            v = _verdict(name, runs, all_steps)
            steps = tuple((s.file, s.line, s.optimizer) for s in v.inside[:1])
            groups.setdefault((where, bool(v.inside), steps, len(runs)), []).append(v)
    for verdicts in groups.values():
        order = {n: i for i, n in enumerate(natural(v.name for v in verdicts))}
        yield _finding(graph, sorted(verdicts, key=lambda v: order[v.name]), all_steps)


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


def _next_call(updates: Sequence[GradUpdate], run: Sequence[GradUpdate]) -> int | None:
    """The call of the update after ``run`` (which found the gradient reset), if any."""
    later = [u.call for u in updates if u.call > run[-1].call]
    return later[0] if later else None


def _leftover(
    run: Sequence[GradUpdate], after: int | None, name: str, steps: Sequence[OptimizerStep]
) -> bool:
    """Did no step use the sum? An optimizer covering ``name`` stepped on the run's first
    gradient alone, and none stepped between the second update and the reset after the run
    (a GAN's generator loss adds to the discriminator's gradients after the discriminator's
    step; its zero_grad() throws the sum away before anything reads it)."""
    covering = [s for s in steps if s.covers(name)]
    first, second = run[0].call, run[1].call
    if not any(first <= s.after_call < second for s in covering):
        return False
    end = after if after is not None else 1 << 62
    return not any(second <= s.after_call < end for s in covering)


def _verdict(name: str, runs: list[list[GradUpdate]], steps: Sequence[OptimizerStep]) -> _Verdict:
    """The run to show: the first whose gradient one optimizer used in two steps, else the
    first."""
    for run in runs:
        inside = _reused(run, name, steps)
        if inside:
            return _Verdict(name, runs, run, inside)
    return _Verdict(name, runs, runs[0], [])


def _reused(
    run: Sequence[GradUpdate], name: str, steps: Sequence[OptimizerStep]
) -> list[OptimizerStep]:
    """Steps inside ``run`` of an optimizer covering ``name`` that stepped twice in it (after
    two different backward calls): the later step reused the gradient of the earlier."""
    first, last = run[0].call, run[-1].call
    by_opt: dict[int, list[OptimizerStep]] = {}
    for s in steps:
        if first <= s.after_call <= last and s.covers(name):
            by_opt.setdefault(s.optimizer_id, []).append(s)
    for opt_steps in by_opt.values():
        if len({s.after_call for s in opt_steps}) >= 2:
            return [s for s in opt_steps if s.after_call < last]
    return []


def _finding(
    graph: AutogradGraph, verdicts: list[_Verdict], steps: Sequence[OptimizerStep]
) -> Finding:
    v = verdicts[0]
    run, inside = v.run, v.inside
    values = _history(run)
    first_kept = run[1]
    if len(verdicts) == 1:
        shown = _grad_of(graph, v.name)
        subject, verb = shown, "was"
    else:
        shown = _grad_of(graph, v.name)
        subject = (
            f"The gradients of {len(verdicts)} {_noun(graph, verdicts)} "
            f"({listed(v.name for v in verdicts)})"
        )
        values = f"{shown} {values}"
        verb = "were"
    if inside:
        where = f" at line {inside[0].line}" if inside[0].line is not None else ""
        n = len(inside)
        step = optimizer_call(inside[0].name, inside[0].optimizer)
        message = (
            f"{subject} kept accumulating across {n} optimizer step{'s' if n > 1 else ''} "
            f"({step}{where}) because {'it' if verb == 'was' else 'they'} "
            f"{verb} never zeroed: {values}"
        )
        resets = _zero_grads([w.inside[0] for w in verdicts if w.inside])
        hint = (
            f"Call {resets} (or set .grad = None) once per training step, before the backward "
            "call, so each step uses only its own gradient."
        )
    else:
        message = (
            f"{subject} accumulated over {len(run)} backward calls without being zeroed: {values}"
        )
        covering = [s for s in steps if any(s.covers(w.name) for w in verdicts)]
        none = _set_none([_grad_of(graph, w.name) for w in verdicts])
        reset = f"{_zero_grads(covering)} (or set {none})" if covering else f"set {none}"
        hint = (
            "backward() adds to .grad; if you did not mean to sum these gradients (as when "
            f"accumulating micro-batches), reset them before each backward call: {reset}."
        )
    if len(v.runs) > 1:
        message += f" (this happened {len(v.runs)} times)"
    related: list[Location] = []
    if run[0].line is not None and (run[0].file, run[0].line) != (first_kept.file, first_kept.line):
        related.append(Location(run[0].file, run[0].line, "first backward of the sum"))
    for s in inside:
        loc = Location(
            s.file, s.line, f"{optimizer_call(s.name, s.optimizer)} used the summed gradient"
        )
        if loc not in related:
            related.append(loc)
    node = _node(graph, v.name, run[-1].call)
    found = (_node(graph, w.name, w.run[-1].call) for w in verdicts)
    nodes = tuple(m for m in found if m is not None)
    return Finding(
        kind=KIND,
        severity="warning" if inside else "info",
        message=message,
        hint=hint,
        file=first_kept.file,
        line=first_kept.line,
        node=node,
        nodes=nodes if len(nodes) > 1 else (),
        graph=graph.graph.get("id") if node is not None else None,
        related=tuple(related),
        badge=f"grad {_history(run, short=True)}",
    )


def _zero_grads(steps: Sequence[OptimizerStep]) -> str:
    """``opt.zero_grad()``; ``opt_g.zero_grad() and opt_d.zero_grad()`` for the optimizers of
    ``steps`` (each once, in order of first step)."""
    seen: dict[int, str] = {}
    for s in steps:
        seen.setdefault(s.optimizer_id, optimizer_call(s.name, s.optimizer, "zero_grad"))
    calls = [code_or_words(c) for c in dict.fromkeys(seen.values())]
    return calls[0] if len(calls) == 1 else ", ".join(calls[:-1]) + " and " + calls[-1]


def _set_none(grads: list[str]) -> str:
    """```w.grad = None; x.grad = None``` for up to four gradients the user's names spell;
    in words otherwise."""
    code = "; ".join(f"{g} = None" for g in grads)
    if len(grads) <= 4 and is_python(code):
        return f"`{code}`"
    return "each one's .grad to None"


def _noun(graph: AutogradGraph, verdicts: list[_Verdict]) -> str:
    """``parameters`` when every one is a module's parameter, else ``tensors`` (plain leaves
    ``w``, ``x`` are not parameters)."""
    for v in verdicts:
        node = _node(graph, v.name, v.run[-1].call)
        if node is not None and graph.nodes[node].get("role") not in (ROLE_PARAM, None):
            return "tensors"
    return "parameters"


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


def _unnamed(graph: AutogradGraph, name: str) -> bool:
    """A leaf the user has no name for (watch names it by its node id)."""
    return graph.by_name(name) is None and re.fullmatch(r"n\d+", name) is not None


def _grad_of(graph: AutogradGraph, name: str) -> str:
    """``w.grad``; for a leaf the user did not name (watch then uses its node id), its label."""
    if graph.by_name(name) is not None or not re.fullmatch(r"n\d+", name):
        return f"{name}.grad"
    label = graph.nodes[name].get("label") if name in graph else None
    return f"the .grad of an unnamed leaf {label}" if label else "the .grad of an unnamed leaf"
