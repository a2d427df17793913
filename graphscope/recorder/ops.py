"""The forward calls that created backward nodes, and the lookup from a node to its call.

A call that moved the autograd sequence counter from ``lo`` to ``hi`` created the nodes numbered
``lo <= seq < hi`` (autograd-notes §4.1); :meth:`OpLog.add` records it as an
:class:`~graphscope.model.OpCall` with the user's line, and :meth:`OpLog.find` maps a node's
sequence number back to it by bisection.
"""

from __future__ import annotations

from bisect import bisect_right

from graphscope.model import Events, OpCall
from graphscope.recorder.sites import Sites

__all__ = ["OpLog", "KEEP_INTERVALS"]

#: how long recorded ops stay findable: a later graph can hold nodes made before an earlier
#: backward (a trunk shared with retain_graph=True, a GAN's generator in its second backward,
#: the previous batch of an RNN), and they keep their line and module there. Records older
#: than the last KEEP_INTERVALS backward calls are dropped, but never the last KEEP_RECORDS
#: (a few MB): a long run keeps O(a few steps) of them
KEEP_INTERVALS = 4
KEEP_RECORDS = 100_000


def cut_point(marks: list[int], size: int) -> int:
    """How many of the oldest ``size`` records to drop, given the record counts at the last
    backward calls (``marks``, oldest first)."""
    if len(marks) <= KEEP_INTERVALS:
        return 0
    return max(0, min(marks[-KEEP_INTERVALS - 1], size - KEEP_RECORDS))


class OpLog:
    """Recorded ops, sorted by ``seq_lo`` (one thread: the counter only grows)."""

    def __init__(self, events: Events, sites: Sites) -> None:
        self.events = events
        self.sites = sites
        self._lo: list[int] = []
        self._ops: list[OpCall] = []
        self._marks: list[int] = []  # len(self._ops) at each of the last forget() calls

    def add(self, api: str, module: str | None, lo: int, hi: int) -> None:
        file, line = self.sites.where()
        op = OpCall(api, file, line, module, lo, hi)
        self.events.ops.append(op)
        los = self._lo
        if los and lo < los[-1]:  # never in one thread; keep the lookup sorted anyway
            i = bisect_right(los, lo)
            los.insert(i, lo)
            self._ops.insert(i, op)
            return
        los.append(lo)
        self._ops.append(op)

    def find(self, seq: int) -> OpCall | None:
        """The call that created the node numbered ``seq``, if recorded."""
        i = bisect_right(self._lo, seq) - 1
        if i >= 0 and seq < self._ops[i].seq_hi:
            return self._ops[i]
        return None

    def forget(self) -> None:
        """A backward call ended: drop the ops recorded before the last few such calls."""
        self._marks.append(len(self._ops))
        cut = cut_point(self._marks, len(self._ops))
        if cut:
            del self._lo[:cut]
            del self._ops[:cut]
            self._marks = [m - cut for m in self._marks if m - cut > 0]
        del self._marks[: -KEEP_INTERVALS - 1]

    def clear(self) -> None:
        self._lo.clear()
        self._ops.clear()
        self._marks.clear()
