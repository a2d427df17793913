"""What a session looks at around each backward call, beyond the capture itself.

:class:`Diagnostics` is called by the session before the engine runs (:meth:`prepare`) and after
it returned (:meth:`conclude`). It

* tells the recorder which call is about to run and where it left the sequence counter
  (carried graphs, :mod:`graphscope.recorder.carry`);
* watches the losses of earlier calls for being kept alive (:mod:`~graphscope.watcher.kept`);
* after a new capture, records the named tensors made from unnamed leaves
  (:mod:`~graphscope.watcher.origins`), and counts as reached the parameters that got their
  gradient from a backward run inside the call (a reentrant checkpoint);
* checks the leaves' gradients for NaN/Inf after every call, and once one is seen hooks the
  next call's graph to locate it (:mod:`~graphscope.watcher.nonfinite`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from graphscope.model import NonFinite
from graphscope.tracer import Capture, capture
from graphscope.watcher.calls import CallRecord
from graphscope.watcher.kept import RootWatch
from graphscope.watcher.nonfinite import nonfinite_hooks, nonfinite_leaves
from graphscope.watcher.origins import made_from_leaf

if TYPE_CHECKING:
    from graphscope.watcher.session import Session

__all__ = ["Diagnostics"]

_get_seq = torch._C._autograd._get_sequence_nr


class Diagnostics:
    """The session's checks around a backward call (see the module docstring)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.events = session.events
        self.roots = RootWatch(session.events)
        self.found_nonfinite = False
        self.locate: int | None = None  # a call whose leaves' gradients held NaN/Inf, unlocated
        self._probe: Capture | None = None
        self._unreached: dict[str, tuple[int, int] | None] = {}
        self._made: set[tuple[str, str | None, int | None]] = set()

    def prepare(self, rec: CallRecord, frame: Any) -> None:
        """Before the engine runs call ``rec``."""
        self.roots.at_call(rec.index, rec.roots, frame)
        if self.session.recorder is not None:
            self.session.recorder.backward_starting(rec.roots, rec.index)
        self._unreached = {}
        if rec.cap is not None:
            g = rec.cap.graph
            self._unreached = {
                nid: _grad_key(t)
                for nid, t in rec.cap.tensors.items()
                if not g.nodes[nid].get("reached", True)
            }
        if self.locate is not None and self.session.nonfinite:
            self._hook_to_locate(rec, frame)

    def conclude(self, rec: CallRecord, error: BaseException | None) -> None:
        """After the engine returned from call ``rec`` (``error``: what it raised)."""
        probe, self._probe = self._probe, None
        if probe is not None:
            probe.release()
        if self.locate is not None and rec.hooks:
            self.locate = None  # the hooks of this call looked for it
        if error is not None:
            return
        recorder = self.session.recorder
        if recorder is not None:
            recorder.backward_done(rec.index, not rec.retain, _get_seq(), (rec.file, rec.line))
        if rec.cap is not None:
            self._after_capture(rec, rec.cap)
        if rec.accumulate and self.session.nonfinite and not self.found_nonfinite:
            self._check_leaves(rec)

    def _after_capture(self, rec: CallRecord, cap: Capture) -> None:
        reached = [
            nid
            for nid, key in self._unreached.items()
            if cap.tensors[nid].grad is not None and _grad_key(cap.tensors[nid]) != key
        ]
        if reached and rec.gid is not None:
            self.session.store.mark_reached(rec.gid, reached)
        for m in made_from_leaf(cap.graph):
            key = (m.name, m.file, m.line)
            if key not in self._made:
                self._made.add(key)
                self.events.made_from_leaf.append(m)

    def _check_leaves(self, rec: CallRecord) -> None:
        if any(e.call == rec.index for e in self.events.nonfinite):
            self._found()
            return
        grads = [t.grad for _, t in rec.leaves]
        bad = nonfinite_leaves(grads)
        if bad is None:
            return
        kind, positions = bad
        names = []
        for i in positions:
            d = self.session.store.node(rec.gid, rec.leaves[i][0]) or {}
            names.append(str(d.get("name") or d.get("label") or "a leaf"))
        self.events.nonfinite.append(
            NonFinite(rec.index, rec.gid, None, "", kind, rec.file, rec.line, leaves=tuple(names))
        )
        self._found()
        self.locate = rec.index

    def _found(self) -> None:
        """A NaN/Inf gradient was seen: from now on the optimizer steps check whether they use
        one (a gradient that no step uses, cleared by zero_grad(), is not a finding)."""
        self.found_nonfinite = True
        recorder = self.session.recorder
        if recorder is not None:
            recorder.steps.check_nonfinite = True

    def _hook_to_locate(self, rec: CallRecord, frame: Any) -> None:
        """Hook this call's graph to find the op where the NaN/Inf seen at ``self.locate``
        first appears."""
        for h in rec.hooks:
            h.remove()
        cap = rec.cap
        if cap is None and any(r.grad_fn is not None for r in rec.roots):
            s = self.session
            names, _ = s.names.for_capture(frame)
            provenance = s.recorder.provenance if s.recorder is not None else None
            cap = self._probe = capture(rec.roots, names, provenance=provenance, keep=True)
        if cap is not None:
            rec.hooks = nonfinite_hooks(
                cap, rec.index, rec.gid, self.events, self.locate, guard=self.session.guard
            )


def _grad_key(t: torch.Tensor) -> tuple[int, int] | None:
    g = t.grad
    return None if g is None else (id(g), int(g._version))
