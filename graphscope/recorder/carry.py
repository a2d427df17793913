"""Forward ops that take a tensor whose graph was built before an earlier backward call.

After each backward call the session tells :class:`Carries` the sequence counter (``floor``):
a backward node numbered below it was made before that call. A forward op whose tensor argument
has such a ``grad_fn`` carries an old graph into the new one: a recurrent state not detached
between batches (``out, h = rnn(x, h)``), or a running total of losses (``total_loss +=
loss``). Each becomes one :class:`~graphscope.model.GraphCarry` per line and argument; it says
whether the old tensor was made by this same line (an accumulation) and which backward call
came first after it was made (the one that freed it, for a recurrent state).

The cost on the hot path is one ``grad_fn`` read per tensor argument of an op that made nodes,
plus one ``_sequence_nr()`` for arguments that have a ``grad_fn``.

Whether a later backward call goes back through the carried graph (a recurrent state kept under
``retain_graph=True``: each call's graph then holds every earlier batch's) is seen by
:meth:`Carries.link` at the next few backward calls after a new carry: a walk of that call's
graph looking for the carried tensor's old node (by its sequence number; nothing is held). It
runs only while a carry waits for its answer, a few times in a whole run (one carry per line).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import torch

from graphscope._tensors import (
    BORROWED,
    _drop_locals_snapshot,
    frame_namespaces,
    is_internal,
    user_frame,
)
from graphscope.model import Events, GraphCarry, OpCall
from graphscope.recorder.sites import Sites

__all__ = ["Carries"]

_Tensor = torch.Tensor
_FREES_KEPT = 64  # backward calls remembered for ``made_before``
_SPANS_KEPT = 8  # recent executions remembered per line (for ``same_site``)
#: backward calls the mode sees: with ``create_graph=True`` they make nodes, and their tensor
#: arguments (the outputs differentiated) were built before the call by that same line (a
#: non-reentrant checkpoint's recomputation makes nodes inside them too)
_BACKWARD_APIS = frozenset({"grad", "backward"})
_LINK_CALLS = 3  # backward calls after a carry that are looked through for its old node

Site = tuple[str | None, int | None]
#: the user's frames of a backward call, innermost first: (file, line, bytecode offset)
Stack = tuple[tuple[str, int, int], ...]
NameOf = Callable[[torch.Tensor, bool], "str | None"]


class Carries:
    """The carried-graph detector of one recorder (see the module docstring)."""

    def __init__(
        self,
        events: Events,
        name: NameOf,
        backward_count: Callable[[], int],
        sites: Sites | None = None,
    ) -> None:
        self.events = events
        self.sites = sites
        self.name = name
        self.backward_count = backward_count
        self.floor = -1  # sequence counter at the end of the last backward call
        self._frees: list[tuple[int, int]] = []  # (call index, counter at its end), freeing calls
        #: line -> recent (lo, hi, bytecode offset) of the ops it made outside modules
        self._sites: dict[tuple[str | None, int | None], list[tuple[int, int, int]]] = {}
        self._seen: set[tuple[str | None, int | None, int, bool]] = set()
        #: recent calls: (counter at its end, its line, the user's frames it was made from)
        self._calls: list[tuple[int, Site, Stack]] = []
        #: carries waiting for :meth:`link`: (event, old sequence numbers, calls left)
        self._pending: list[tuple[GraphCarry, frozenset[int], int]] = []

    def backward_done(self, index: int, freed: bool, seq: int, site: Site | None = None) -> None:
        """Backward call ``index`` ended with the counter at ``seq``; ``freed``: it did not
        retain its graph; ``site``: the user's line that made it."""
        self.floor = seq
        self._calls.append((seq, site or (None, None), _user_stack()))
        del self._calls[:-_FREES_KEPT]
        if freed:
            self._frees.append((seq, index))
            del self._frees[:-_FREES_KEPT]

    def op(self, op: OpCall, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Look at the tensor arguments of ``op`` (a call that made backward nodes)."""
        if op.api in _BACKWARD_APIS:  # its tensors are the roots of a backward call, not a total
            return
        site = (op.file, op.line)
        if self.floor >= 0:
            pos = 0
            for a in args if not kwargs else (*args, *kwargs.values()):
                if isinstance(a, _Tensor):
                    self._arg(op, a, pos, site)
                elif isinstance(a, (list, tuple)):
                    for x in a:
                        if isinstance(x, _Tensor):
                            self._arg(op, x, pos, site)
                pos += 1
        if op.module is None:  # lines outside modules: where running totals are kept
            spans = self._sites.setdefault(site, [])
            spans.append((op.seq_lo, op.seq_hi, self.sites.lasti if self.sites else -1))
            if len(spans) > _SPANS_KEPT:
                del spans[0]

    def clear(self) -> None:
        self._sites.clear()
        self._seen.clear()
        self._frees.clear()
        self._calls.clear()
        self._pending.clear()
        self.floor = -1

    def link(self, roots: list[torch.Tensor], index: int) -> None:
        """Backward call ``index`` is about to run from ``roots``: record it as ``into_call``
        of each waiting carry whose old node its graph holds."""
        if not self._pending:
            return
        wanted = set().union(*(seqs for _, seqs, _ in self._pending))
        found = _reached_seqs(roots, wanted)
        left = []
        for event, seqs, calls in self._pending:
            if seqs & found:
                _replace(self.events.carries, event, replace(event, into_call=index))
            elif calls > 1:
                left.append((event, seqs, calls - 1))
        self._pending = left

    def _arg(
        self, op: OpCall, t: torch.Tensor, pos: int, site: tuple[str | None, int | None]
    ) -> None:
        fn = t.grad_fn
        if fn is None:
            return
        s = fn._sequence_nr()
        if op.seq_lo <= s < op.seq_hi:  # rebased by this in-place op: its old history is behind
            seqs = [_seq(c) for c, _ in fn.next_functions if c is not None]
        else:
            seqs = [s]
        old = [x for x in seqs if x < self.floor]
        if not old:
            return
        spans = self._sites.get(site, ()) if op.module is None else ()
        made = [(x, at) for x in old for lo, hi, at in spans if lo <= x < hi]
        # an accumulation across iterations: a backward call from another line (the loop's
        # ``loss.backward()``) came between; not the backward calls one statement makes itself
        # (``hessian(f, x)``, ``jacobian``, ``gradgradcheck`` on one line), nor those made by a
        # function it calls after it made the old tensor (``D(x).mean() + penalty(D, x)``, whose
        # ``autograd.grad(create_graph=True)`` runs while the statement does)
        same = False
        if made:
            first, offset = min(made)
            same = any(
                end > first and at != site and not _within(stack, site, offset)
                for end, at, stack in self._calls[-_FREES_KEPT:]
            )
        key = (op.file, op.line, pos, same)
        if key in self._seen:
            return
        self._seen.add(key)
        i = bisect_right(self._frees, (min(old), 1 << 62))
        made_before = self._frees[i][1] if i < len(self._frees) else 0
        held = _outermost_holder(t)
        name, file, line, in_tuple = held or (self.name(t, True), op.file, op.line, False)
        event = GraphCarry(
            api=op.api,
            file=file,
            line=line,
            module=op.module,
            name=name,
            after_call=self.backward_count(),
            made_before=made_before,
            same_site=same,
            in_tuple=in_tuple,
        )
        self.events.carries.append(event)
        self._pending.append((event, frozenset(old), _LINK_CALLS))


def _within(stack: Stack, site: Site, offset: int) -> bool:
    """Whether a backward call made from ``stack`` ran inside the execution of the statement at
    ``site`` that made a tensor at bytecode ``offset``: called from that line, further on in it.
    (Run again, in the next iteration of a loop, the statement calls from an earlier offset.)"""
    return offset >= 0 and any((f, n) == site and lasti > offset for f, n, lasti in stack)


def _user_stack() -> Stack:
    """The user's frames on the stack now (outside torch and graphscope), innermost first."""
    out = []
    f = user_frame(2)
    while f is not None:
        if not is_internal(f.f_code.co_filename) and f.f_code not in BORROWED:
            out.append((f.f_code.co_filename, f.f_lineno, f.f_lasti))
        f = f.f_back
    return tuple(out)


def _replace(events: list[GraphCarry], old: GraphCarry, new: GraphCarry) -> None:
    for i in range(len(events) - 1, -1, -1):
        if events[i] is old:
            events[i] = new
            return


def _reached_seqs(roots: list[torch.Tensor], wanted: set[int]) -> set[int]:
    """Those of ``wanted`` (sequence numbers) that are nodes of the graph behind ``roots``; the
    walk stops once all are found and skips parameters' AccumulateGrad nodes."""
    found: set[int] = set()
    low = min(wanted)
    stack = [r.grad_fn for r in roots if r.grad_fn is not None]
    seen: dict[
        int, Any
    ] = {}  # id -> the node's wrapper, held until the walk ends (ids stay unique)
    while stack:
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen[id(fn)] = fn
        s = _seq(fn)
        if s in wanted:
            found.add(s)
            if len(found) == len(wanted):
                break
        if s < low:  # made before every node looked for: nothing older below it matters
            continue
        for child, _ in fn.next_functions:
            if child is not None and not hasattr(child, "variable"):
                stack.append(child)
    return found


def _seq(fn: Any) -> int:
    try:
        return int(fn._sequence_nr())
    except Exception:
        return 1 << 62


def _outermost_holder(t: torch.Tensor) -> tuple[str, str, int, bool] | None:
    """``(variable, file, line, in a tuple)`` in the outermost user frame whose variable holds
    ``t`` (itself, or in a tuple or list: an LSTM's ``hidden``): the training loop that carries
    it from batch to batch, rather than the model's ``forward`` it is passed to."""
    found = None
    f = user_frame(3)
    while f is not None:
        if not is_internal(f.f_code.co_filename):
            held = _holder_in(f, t)
            if held is not None:
                found = (held[0], f.f_code.co_filename, f.f_lineno, held[1])
        f = f.f_back
    return found


def _holder_in(frame: Any, t: torch.Tensor) -> tuple[str, bool] | None:
    spaces = frame_namespaces(frame)
    try:
        for space in spaces:
            for k, v in space.items():
                if k.startswith("__"):
                    continue
                if v is t:
                    return str(k), False
                if isinstance(v, (tuple, list)) and any(x is t for x in v):
                    return str(k), True
        return None
    finally:
        _drop_locals_snapshot(spaces)
