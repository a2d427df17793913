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

__all__ = ["OpLog"]


class OpLog:
    """Recorded ops, sorted by ``seq_lo`` (one thread: the counter only grows)."""

    def __init__(self, events: Events, sites: Sites) -> None:
        self.events = events
        self.sites = sites
        self._lo: list[int] = []
        self._ops: list[OpCall] = []

    def add(self, api: str, module: str | None, lo: int, hi: int) -> OpCall:
        """Record the call that made nodes ``lo <= seq < hi``; returns its event."""
        file, line = self.sites.where()
        op = OpCall(api, file, line, module, lo, hi)
        self.events.ops.append(op)
        los = self._lo
        if los and lo < los[-1]:  # never in one thread; keep the lookup sorted anyway
            i = bisect_right(los, lo)
            los.insert(i, lo)
            self._ops.insert(i, op)
            return op
        los.append(lo)
        self._ops.append(op)
        return op

    def find(self, seq: int) -> OpCall | None:
        """The call that created the node numbered ``seq``, if recorded."""
        i = bisect_right(self._lo, seq) - 1
        if i >= 0 and seq < self._ops[i].seq_hi:
            return self._ops[i]
        return None

    def forget(self) -> None:
        self._lo.clear()
        self._ops.clear()
