"""Repeats in a sequence of steps: where the same unit of tokens comes again and again.

The tokens of one module level, in forward order (an op of the module itself, or one call of a
child module), carry a label (equal labels: equal structure) and their successors (which
tokens they feed). A *run* ``(start, period, repeats)`` is a stretch of ``repeats`` copies of
``period`` tokens in which

* the labels repeat with that period,
* the edges inside each copy are the same (relative to the copy's start), and
* data flows from each copy into the next one the same way, and at all (a loop carries its
  state; identical layers feed each other): unrelated look-alikes (``norm1``, ``norm2``) never
  fold into one.

The first copy may lack inputs from before the loop and the last copy outputs to after it: only
the edges between copies are compared. Linear in the length for each candidate period; the
candidates are the most common distances between equal labels.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import NamedTuple

__all__ = ["Run", "find_runs"]

MAX_PERIOD = 512  # longest unit looked for, in tokens
MAX_CANDIDATES = 8  # periods tried


class Run(NamedTuple):
    start: int
    period: int
    repeats: int

    @property
    def end(self) -> int:
        return self.start + self.period * self.repeats


def find_runs(labels: Sequence[int], succ: Sequence[Sequence[int]]) -> list[Run]:
    """Non-overlapping runs, the ones covering most tokens first; ``labels[i] < 0`` never
    repeats (an expanded module, a node that must stay visible)."""
    found: list[Run] = []
    for p in _candidate_periods(labels):
        found.extend(_runs_of_period(labels, succ, p))
    found.sort(key=lambda r: (-r.period * r.repeats, r.period, r.start))
    taken = [False] * len(labels)
    chosen: list[Run] = []
    for r in found:
        if any(taken[r.start : r.end]):
            continue
        for k in range(r.start, r.end):
            taken[k] = True
        chosen.append(r)
    chosen.sort()
    return chosen


def _candidate_periods(labels: Sequence[int]) -> list[int]:
    """The most common distances between equal labels: the likely loop periods."""
    last: dict[int, int] = {}
    counts: Counter[int] = Counter()
    for i, lab in enumerate(labels):
        if lab < 0:
            continue
        j = last.get(lab)
        if j is not None and i - j <= MAX_PERIOD:
            counts[i - j] += 1
        last[lab] = i
    ranked = sorted(((c, -d) for d, c in counts.items() if c >= 1), reverse=True)
    return [-negd for _, negd in ranked[:MAX_CANDIDATES]]


def _runs_of_period(labels: Sequence[int], succ: Sequence[Sequence[int]], p: int) -> list[Run]:
    m = len(labels)
    out: list[Run] = []
    i = 0
    while i < m - p:
        if labels[i] < 0 or labels[i] != labels[i + p]:
            i += 1
            continue
        j = i
        while j < m - p and labels[j] >= 0 and labels[j] == labels[j + p]:
            j += 1
        copies = (j + p - i) // p  # [i, j + p) repeats with period p
        if copies >= 2:
            out.extend(_checked(succ, i, p, copies))
        i = j + 1
    return out


def _checked(succ: Sequence[Sequence[int]], start: int, p: int, copies: int) -> list[Run]:
    """Split ``copies`` label-equal copies into runs whose edges repeat too."""
    inner: list[tuple[tuple[int, int], ...]] = []
    cross: list[tuple[tuple[int, int], ...]] = []
    for c in range(copies):
        s = start + c * p
        a_in: list[tuple[int, int]] = []
        a_x: list[tuple[int, int]] = []
        for a in range(s, s + p):
            for b in succ[a]:
                if s <= b < s + p:
                    a_in.append((a - s, b - s))
                elif s + p <= b < s + 2 * p:
                    a_x.append((a - s, b - s - p))
        inner.append(tuple(sorted(a_in)))
        cross.append(tuple(sorted(a_x)))
    out: list[Run] = []
    c0 = 0
    c = 1
    while c0 < copies - 1:
        while c < copies and inner[c] == inner[c0] and cross[c0] and cross[c - 1] == cross[c0]:
            c += 1
        if c - c0 >= 2:
            out.append(Run(start + c0 * p, p, c - c0))
        c0 = max(c, c0 + 1) if c - c0 >= 2 else c0 + 1
        c = c0 + 1
    return out
