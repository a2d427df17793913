"""``RunList``: a list that stores a run of near-identical records once (a training loop's log).

A training loop makes the same backward call, from the same line, on the same graph, 10,000
times; only the call's number changes. Kept as 10,000 records, the log would grow by a few
hundred bytes a call for the whole run. A :class:`RunList` keeps each run of records that
differ only in their *stepping* fields (``index``, ``after_call``: each one a constant step
from the previous record) as one record, a count and the steps; it reads back exactly as the
list of records it was given (iteration, ``len``, indexing, ``==`` with a list).

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Call:
...     index: int
...     line: int
>>> log = RunList(stepping=("index",))
>>> for i in range(1, 10_001):
...     log.append(Call(i, 7))
>>> log.append(Call(10_001, 9))
>>> len(log), log[0], log[-2], len(log.runs())
(10001, Call(index=1, line=7), Call(index=10000, line=7), 2)
>>> calls = RunList(range(1, 6))  # plain ints step by their value
>>> list(calls), 3 in calls, len(calls.runs())
([1, 2, 3, 4, 5], True, 1)
"""

from __future__ import annotations

import dataclasses
from bisect import bisect_right
from collections.abc import Iterable, Iterator, MutableSequence
from typing import Any, TypeVar, overload

__all__ = ["RunList"]

T = TypeVar("T")


class RunList(MutableSequence[T]):
    """A list of ints or frozen dataclass records, stored as runs (see the module docstring).
    ``stepping``: the fields of a record that may change by a constant step inside a run (for
    ints: the value itself); every other field must be equal."""

    def __init__(self, items: Iterable[T] = (), *, stepping: tuple[str, ...] = ()) -> None:
        self.stepping = stepping
        #: [first record, count, steps]: steps are ``((field, step), ...)`` (for ints one pair
        #: named "") from each record of the run to the next, None while the run has one record
        self._runs: list[list[Any]] = []
        self._starts: list[int] = []  # position of each run's first record
        self._len = 0
        for x in items:
            self.append(x)

    def runs(self) -> list[tuple[T, int]]:
        """``(first record, count)`` of each run."""
        return [(r[0], r[1]) for r in self._runs]

    # -- reading ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[T]:
        for first, count, steps in self._runs:
            yield first
            for k in range(1, count):
                yield self._nth(first, steps, k)

    @overload
    def __getitem__(self, i: int) -> T: ...

    @overload
    def __getitem__(self, i: slice) -> list[T]: ...

    def __getitem__(self, i: int | slice) -> T | list[T]:
        if isinstance(i, slice):
            return list(self)[i]
        if i < 0:
            i += self._len
        if not 0 <= i < self._len:
            raise IndexError("RunList index out of range")
        r = bisect_right(self._starts, i) - 1
        first, _, steps = self._runs[r]
        k = i - self._starts[r]
        return first if k == 0 else self._nth(first, steps, k)

    def __contains__(self, value: object) -> bool:
        if isinstance(value, int) and self._runs and isinstance(self._runs[0][0], int):
            for first, count, steps in self._runs:  # ints: arithmetic, not a scan
                step = steps[0][1] if steps else 0
                d = value - first
                if d == 0 or (step and d % step == 0 and 0 < d // step < count):
                    return True
            return False
        return any(x == value for x in self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (RunList, list, tuple)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RunList({list(self)!r})"

    # -- writing ------------------------------------------------------------------------------

    def append(self, value: T) -> None:
        runs = self._runs
        if runs:
            last = runs[-1]
            first, count, steps = last
            if count == 1:
                steps = self._steps(first, value)
                if steps is not None:
                    last[1], last[2] = 2, steps
                    self._len += 1
                    return
            elif self._nth(first, steps, count) == value:
                last[1] += 1
                self._len += 1
                return
        runs.append([value, 1, None])
        self._starts.append(self._len)
        self._len += 1

    def insert(self, index: int, value: T) -> None:
        items = list(self)
        items.insert(index, value)
        self._rebuild(items)

    def __setitem__(self, i: Any, value: Any) -> None:
        items = list(self)
        items[i] = value
        self._rebuild(items)

    def __delitem__(self, i: Any) -> None:
        items = list(self)
        del items[i]
        self._rebuild(items)

    def clear(self) -> None:
        self._runs.clear()
        self._starts.clear()
        self._len = 0

    def _rebuild(self, items: list[T]) -> None:
        self.clear()
        for x in items:
            self.append(x)

    # -- runs ---------------------------------------------------------------------------------

    def _steps(self, first: Any, value: Any) -> tuple[tuple[str, int], ...] | None:
        """The steps from ``first`` to ``value`` when ``value`` can follow it in a run."""
        if type(first) is int and type(value) is int:
            return (("", value - first),)
        if type(first) is not type(value) or not dataclasses.is_dataclass(first):
            return None
        steps = []
        for f in dataclasses.fields(first):
            a, b = getattr(first, f.name), getattr(value, f.name)
            if f.name in self.stepping and type(a) is int and type(b) is int:
                if b != a:
                    steps.append((f.name, b - a))
            elif a != b:
                return None
        return tuple(steps)

    def _nth(self, first: Any, steps: tuple[tuple[str, int], ...] | None, k: int) -> Any:
        """The ``k``-th record of the run that starts with ``first``."""
        if not steps:
            return first
        if type(first) is int:
            return first + k * steps[0][1]
        return dataclasses.replace(first, **{n: getattr(first, n) + k * s for n, s in steps})
