"""A run of repeated tokens as one group: its name, the copy its drill-down shows, its state.

Two kinds of folds come out of :func:`~graphscope.overview.periodic.find_runs`:

* **identical siblings**: one token per copy, calls of children that differ only by an index
  (``layers.0`` ... ``layers.11`` of a ``ModuleList``): ``encoder.layers.0–11 ×12``; its
  drill-down shows the first copy;
* **loops**: anything else, e.g. ``cell1, cell2, head`` per step of a Python loop, or the ops
  and calls of one step of a loop inside a module's ``forward``: ``cell1 → cell2 → head ×300``;
  its drill-down shows one step (the second, so that the step before and after it show as its
  neighbours), and the state a step hands to the next one (``h1``, ``c1``: the names of the
  loop's variables when the last step's tensors are still bound to them) is kept per op.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from graphscope.overview.groups import FOLD, Group
from graphscope.overview.periodic import Run

if TYPE_CHECKING:
    from graphscope.overview.grouping import Planner, Token

__all__ = ["fold"]

_BACKWARD = re.compile(r"Backward\d*$")
_MAX_NAME_PARTS = 4


def fold(planner: Planner, path: tuple[str, ...], tokens: list[Token], run: Run) -> Group:
    """The group for ``run`` of ``tokens`` at module level ``path``."""
    p = run.period
    copies = [
        [i for t in tokens[run.start + c * p : run.start + (c + 1) * p] for i in t.ops]
        for c in range(run.repeats)
    ]
    unit_tokens = tokens[run.start : run.start + p]
    cluster = ".".join(path) or None
    prefix = ".".join(path) + "." if path else ""
    first, last = _only_call(unit_tokens), _only_call(tokens[run.end - p : run.end])
    siblings = first is not None and last is not None and first != last
    members = planner.with_joined([i for c in copies for i in c])
    if siblings:
        assert first is not None and last is not None
        name = f"{prefix}{first}–{last}"
        # drawn beside the list's other contents: ``layers.0–5`` reads better than ``0–5``
        cluster = ".".join(path[:-1]) or None
        group = Group(
            kind=FOLD,
            name=name,
            title=planner.titled(name, cluster, cls_of=prefix + first),
            module=prefix + first,
            gid="g:" + name.replace("–", "-"),
            unit_index=0,
        )
    else:
        name = _loop_name(planner, unit_tokens, path)
        group = Group(kind=FOLD, name=name, title=name, unit_index=1 if run.repeats > 2 else 0)
    group.members = members
    group.repeat = run.repeats
    group.cluster = cluster
    group.copies = copies
    group.unit = planner.with_joined(copies[group.unit_index])
    # a loop's state is worth naming; a layer's output feeding the next layer is just the flow
    group.state = {} if siblings else _state(planner, copies, group.unit_index)
    return group


def _only_call(copy: list[Token]) -> str | None:
    """The child a copy calls, when it calls exactly one (``layers.3``), else None."""
    calls = [t.child for t in copy if t.child is not None]
    return calls[0] if len(calls) == 1 else None


def _loop_name(planner: Planner, unit: list[Token], path: tuple[str, ...]) -> str:
    """``cell1 → cell2 → head`` (the calls of one step), else ``Mul → Add → Tanh``."""
    calls: list[str] = []
    for t in unit:
        if t.child is not None and (not calls or calls[-1] != t.child):
            calls.append(t.child)
    if calls:
        parts = calls
    else:
        parts = []
        for t in unit:
            d = planner.ix.data[t.ops[0]]
            parts.append(_BACKWARD.sub("", str(d.get("label") or d.get("name"))) or "op")
        if len(parts) > _MAX_NAME_PARTS and path:  # a long step inside one module
            return f"{path[-1]} step ({len(parts)} ops)"
    if len(parts) > _MAX_NAME_PARTS:
        more = len(parts) - _MAX_NAME_PARTS + 1
        parts = parts[: _MAX_NAME_PARTS - 1] + [f"… {more} more"]
    return " → ".join(parts)


def _state(planner: Planner, copies: list[list[int]], unit: int) -> dict[int, list[str]]:
    """``{op: [loop variable names]}`` for the ops of the unit whose output the next step
    reads, and for the same ops of the step before the unit (whose output the unit reads);
    the names are those of the last step's tensors (what the variables hold after the loop),
    when the program still holds them."""
    ix = planner.ix
    through = ix.through()
    nxt = set(copies[1])
    feeding = [r for r, i in enumerate(copies[0]) if any(j in nxt for j in through[i])]
    last = copies[-1]
    out: dict[int, list[str]] = {}
    for r in feeding:
        names = [
            str(ix.data[t]["name"])
            for t in planner.joined.get(last[r], ())
            if ix.data[t].get("name")
        ]
        out[copies[unit][r]] = names
        if unit > 0:
            out[copies[unit - 1][r]] = names
    return out
