"""``--pdb`` at the in-place write: stop the script where it makes a saved tensor stale.

With ``watch(debug=True)`` (``graphscope check --pdb``), each in-place write the recorder sees
is checked at once: does a backward node that is still alive hold, saved for its backward,
this tensor at an older version (autograd's own version-counter check, the one backward will
fail with "modified by an inplace operation")? The first such write prints its
``saved-tensor-modified`` finding (made by the check itself, on the graph traced there) and opens
pdb in the innermost frame of the user's code at the line that wrote, with its tensors live;
commands come from stdin. ``c`` lets the script run on unchanged; ``q`` stops it
(:class:`Quit`). Without ``debug`` nothing here runs.

Where the nodes are found: the graphs of the tensors that the frames on the stack hold (the
user's variables, and a module's ``forward`` locals for a write inside it), and of the written
tensor itself (a node that saved its own output, then written over). A node counts when reading
its saved slot raises torch's stale error; a freed graph's slots hold nothing.

Writes that no false stop may come from: a parameter updated in place (by an optimizer step or
under ``no_grad``) while a graph that no backward call will go through still saved it (a
validation pass run with gradients on, the first-order graph of a gradient penalty, a head only
the first of two losses went through, a ``retain_graph=True`` given without need). So a write to
a leaf that requires grad counts only when the last backward call kept its graph with
``retain_graph=True`` (not ``create_graph=True``), for a node of that kept graph, reached from a
tensor outside it: another loss built on the shared part (an actor-critic's second loss), a
recurrent state carried into the next batch (an LSTM's ``h_n``). The kept loss itself and the
tensors made inside its graph are gone at the next iteration. That is a forecast: the stop says
"the next backward call that goes back through that graph will fail". The writes of one
``optimizer.step()`` are checked together when it ends, at the ``step()`` line.
"""

from __future__ import annotations

import inspect
import os
import runpy
import sys
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import torch

from graphscope._tensors import BORROWED, storage_key, user_frame
from graphscope.checks import saved_tensor_modified
from graphscope.model import Events, Finding, InplaceWrite
from graphscope.names import Names
from graphscope.tracer import capture, protect

__all__ = ["Stops", "Quit"]

_OUR_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_SCENARIOS = _OUR_DIR + "scenarios" + os.sep
_RUNPY = os.path.abspath(runpy.__file__)
_MARK = saved_tensor_modified.MARK
#: modules pdb's step does not stop in (bdb's glob patterns on ``__name__``)
_SKIP = ("graphscope", "graphscope.*", "torch", "torch.*", "contextlib", "functools", "runpy")
_FREED = "after they have already been freed"


class Quit(BaseException):
    """``q`` at the prompt of a stop: the script ends there (as ``pytest --pdb`` quits). A
    BaseException, as KeyboardInterrupt: the script's own ``except Exception`` does not
    swallow it, nor do our hooks' error boundaries."""


#: ``(write, root, frame)``: a write that made a saved tensor stale, a tensor whose graph
#: holds the node, the user's frame of the write
Stop = tuple[InplaceWrite, torch.Tensor, FrameType]


class Stops:
    """The stop-at-the-write debugger of one session (see the module docstring).

    ``names(frame)`` gives the names table for a capture; ``provenance`` links nodes to lines;
    ``quiet()`` returns a context in which the recorder records nothing (what is typed at the
    prompt is not the program's)."""

    def __init__(
        self,
        events: Events,
        names: Callable[[FrameType | None], Names],
        provenance: Any,
        quiet: Callable[[], Any],
        fail: Callable[[str, Exception], None],
    ) -> None:
        self.events = events
        self.names = names
        self.provenance = provenance
        self.quiet = quiet
        self.fail = fail
        #: the sequence counter at the end of the last backward call, when it kept its graph
        self.retained_floor = -1
        #: the sequence numbers of that call's backward nodes
        self.kept_nodes: frozenset[int] = frozenset()
        #: the writes of the optimizer step in progress
        self._pending: list[tuple[torch.Tensor, InplaceWrite]] = []
        #: the lines it stopped at (the script's error there is not opened again)
        self.stopped: list[tuple[str | None, int | None]] = []
        #: the findings printed at the stops (the report keeps them if nothing else makes them)
        self.findings: list[Finding] = []
        self._types: dict[type, tuple[str, ...]] = {}  # node type -> its _raw_saved_ slots

    # the recorder's listeners -----------------------------------------------------------------

    def on_writes(self, written: list[tuple[torch.Tensor, InplaceWrite]], in_step: bool) -> None:
        """Writes one torch call made (``in_step``: inside ``optimizer.step()``: kept for
        :meth:`step_done`). May open pdb; raises :class:`Quit` on ``q``."""
        if in_step:
            self._pending.extend(written)
            return
        self._maybe_stop(written)

    def backward_done(
        self, retain: bool, create: bool, seq: int, roots: list[torch.Tensor]
    ) -> None:
        """A backward call from ``roots`` ended at sequence counter ``seq``. One that kept its
        graph by ``retain_graph=True`` keeps it for a later call (the sequence numbers of its
        nodes are kept: :meth:`_find`); one that freed it ends that wait (two losses of one
        forward pass, the first kept for the second); ``create_graph=True`` keeps the graph for
        its own higher-order use (a gradient penalty), not for a later call: it changes
        nothing."""
        if create:
            return
        self.retained_floor = seq if retain else -1
        self.kept_nodes = _graph_seqs(roots) if retain else frozenset()

    def step_done(self) -> None:
        """The optimizer step ended: its writes are checked together."""
        written, self._pending = self._pending, []
        if written:
            self._maybe_stop(written)

    def _maybe_stop(self, written: list[tuple[torch.Tensor, InplaceWrite]]) -> None:
        if self.stopped:  # the first finding is the one to stop at
            return
        try:
            stop = self._find(written)
        except Exception as err:  # never let our bookkeeping break the user's call
            self.fail("looking for a stale saved tensor", err)
            return
        if stop is not None:
            self._enter(*stop)

    # finding the stale node -------------------------------------------------------------------

    def _find(self, written: list[tuple[torch.Tensor, InplaceWrite]]) -> Stop | None:
        frame = user_frame(2)
        if frame is None:  # a write made outside the user's code (at import, in a thread)
            return None
        params: list[tuple[torch.Tensor, InplaceWrite]] = []
        others: list[tuple[torch.Tensor, InplaceWrite]] = []
        for t, w in written:
            is_param = w.is_leaf and w.requires_grad and not w.grad_enabled
            (params if is_param else others).append((t, w))
        if params and self.retained_floor < 0:
            params = []  # no graph was kept for a later backward: a parameter update is legit
        if not params and not others:
            return None
        held = _frame_tensors(sys._getframe(2))
        hit = None
        if others:
            hit = self._walk([t for t, _ in others] + held, _targets(others), set())
        if hit is None and params:
            # a graph kept for a later backward call: reached from a tensor that call's graph
            # does not hold (its own root, the kept loss, or a tensor made inside it, are
            # dropped at the next iteration): another loss on the shared part (an actor's),
            # a recurrent state carried into the next batch (an LSTM's h_n)
            apart = [t for t in held if _seq(t.grad_fn) not in self.kept_nodes]
            targets = _targets(params)
            hit = self._walk(apart, targets, set(targets))
        if hit is None:
            return None
        write, root = hit
        return write, root, frame

    def _walk(
        self,
        roots: list[torch.Tensor],
        targets: dict[int, tuple[torch.Tensor, InplaceWrite]],
        params: set[int | None],
    ) -> tuple[InplaceWrite, torch.Tensor] | None:
        """The first write whose tensor a live node saved at an older version, and the root
        whose graph holds that node."""
        seen: set[int] = set()
        order: list[Any] = []
        walked: list[torch.Tensor] = []
        try:
            for root in roots:
                fn = root.grad_fn
                if fn is None or id(fn) in seen:
                    continue
                walked.append(root)
                stack = [fn]
                seen.add(id(fn))
                while stack:
                    node = stack.pop()
                    order.append(node)
                    key = self._stale_key(node, targets, params)
                    if key is not None:
                        return targets[key][1], root
                    for nxt, _ in node.next_functions:
                        if nxt is not None and id(nxt) not in seen:
                            seen.add(id(nxt))
                            stack.append(nxt)
            return None
        finally:
            # the walk gave the nodes Python wrappers: torch must still free a deep graph
            if walked:
                protect(walked, nodes=len(order))
            del order

    def _stale_key(
        self, node: Any, targets: dict[int, tuple[torch.Tensor, InplaceWrite]], params: set[Any]
    ) -> int | None:
        """The storage key of a target that ``node`` saved and that is stale now, or None."""
        slots = self._types.get(type(node))
        if slots is None:
            slots = self._types[type(node)] = tuple(
                k for k in dir(node) if k.startswith("_raw_saved_")
            )
        for raw_name in slots:
            try:
                raw = getattr(node, raw_name)
            except Exception:
                continue
            for r in raw if isinstance(raw, (list, tuple)) else (raw,):
                if r is None or getattr(r, "unpack_hook", None) is not None:
                    continue  # saved under saved_tensors_hooks: never unpacked here
                data = r.data
                if not isinstance(data, torch.Tensor):
                    continue  # freed, or never saved
                key = storage_key(data)
                if key not in targets:
                    continue
                if key in params and _seq(node) not in self.kept_nodes:
                    continue  # a parameter saved by a graph no backward call kept
                if _is_stale(node, raw_name[4:]):
                    return key
        return None

    # the stop ---------------------------------------------------------------------------------

    def _enter(self, write: InplaceWrite, root: torch.Tensor, frame: FrameType) -> None:
        """Print the finding, then pdb at ``frame`` (commands from stdin)."""
        import pdb

        self.stopped.append((write.file, write.line))
        try:
            finding = self._finding(write, root, frame)
        except Exception as err:
            self.fail("explaining a stale saved tensor", err)
            finding = None
        if finding is not None:
            self.findings.append(finding)
            print(
                f"graphscope: {finding.severity}: {finding.kind} at {finding.file}:"
                f"{finding.line}: {finding.message}"
            )
            print(f"  fix: {finding.hint}")
        print(
            "graphscope: entering pdb at the in-place write (c: let the script run on; q: stop it)"
        )
        sys.stdout.flush()
        debugger = pdb.Pdb(nosigint=True, skip=_SKIP)
        debugger.reset()
        bottom = debugger.botframe = _outermost_user(frame)
        with self.quiet():
            debugger.interaction(frame, None)
        if debugger.quitting:
            raise Quit()
        if debugger.stoplineno != -1 or debugger.breaks:  # n, s, until, return; breakpoints
            _trace_from(debugger, frame, bottom)  # as pdb.set_trace() would have

    def _finding(self, write: InplaceWrite, root: torch.Tensor, frame: FrameType) -> Finding | None:
        """The check's finding for ``write``, on the graph traced from ``root`` now."""
        cap = capture(
            [root], self.names(frame), provenance=self.provenance, inplace=self.events.inplace
        )
        found = list(saved_tensor_modified.check(cap.graph, self.events))
        cap.release()
        at = [f for f in found if (f.file, f.line) == (write.file, write.line)]
        if at:
            return at[0]
        return found[0] if found else None


def _targets(
    written: list[tuple[torch.Tensor, InplaceWrite]],
) -> dict[int, tuple[torch.Tensor, InplaceWrite]]:
    """``storage key -> (tensor, write)``, the first write of each storage."""
    out: dict[int, tuple[torch.Tensor, InplaceWrite]] = {}
    for t, w in written:
        key = storage_key(t)
        if key:
            out.setdefault(key, (t, w))
    return out


def _graph_seqs(roots: list[torch.Tensor]) -> frozenset[int]:
    """The sequence numbers of the backward nodes reachable from ``roots`` (the graph was
    protected for freeing when the backward call captured it)."""
    seen: set[int] = set()
    seqs: set[int] = set()
    stack = [r.grad_fn for r in roots if r.grad_fn is not None]
    for fn in stack:
        seen.add(id(fn))
    while stack:
        node = stack.pop()
        seqs.add(_seq(node))
        for nxt, _ in node.next_functions:
            if nxt is not None and id(nxt) not in seen:
                seen.add(id(nxt))
                stack.append(nxt)
    return frozenset(seqs)


def _trace_from(debugger: Any, frame: FrameType, bottom: FrameType) -> None:
    """Trace the user's frames from ``frame`` out to ``bottom`` with ``debugger``, so that the
    command it was left with (``n``: the next line of ``frame``) stops where it should."""
    f: FrameType | None = frame
    while f is not None:
        f.f_trace = debugger.trace_dispatch
        if f is bottom:
            break
        f = f.f_back
    sys.settrace(debugger.trace_dispatch)


def _seq(node: Any) -> int:
    if node is None:
        return -1
    try:
        return int(node._sequence_nr())
    except Exception:
        return -1


def _is_stale(node: Any, attr: str) -> bool:
    """Reading the saved slot raises torch's stale error (the check backward makes)."""
    try:
        getattr(node, attr)
    except RuntimeError as err:
        return _MARK in str(err)
    except Exception:
        return False
    return False


def _ours(filename: str) -> bool:
    return filename.startswith(_OUR_DIR) and not filename.startswith(_SCENARIOS)


def _frame_tensors(frame: FrameType | None) -> list[torch.Tensor]:
    """Tensors that the frames from ``frame`` outward hold in variables (one level into the
    lists, tuples and dict values they hold): the user's, and torch's (a module's forward)."""
    seen: set[int] = set()
    out: list[torch.Tensor] = []
    f = frame
    while f is not None:
        code = f.f_code
        if not _ours(code.co_filename) and code not in BORROWED:
            space = f.f_locals
            try:
                values = list(space.values())
            finally:
                if code.co_flags & inspect.CO_OPTIMIZED and isinstance(space, dict):
                    # a function's snapshot of its locals (CPython <= 3.12), not a namespace
                    # (a module's, a class body's): dropped, so that it holds no tensor
                    space.clear()
            for v in values:
                for t in _tensors_in(v):
                    if id(t) not in seen:
                        seen.add(id(t))
                        out.append(t)
            del values
        f = f.f_back
    return out


def _tensors_in(v: Any) -> Iterator[torch.Tensor]:
    if isinstance(v, torch.Tensor):
        if v.grad_fn is not None:
            yield v
    elif isinstance(v, (list, tuple)):
        for x in v[:64]:
            if isinstance(x, torch.Tensor) and x.grad_fn is not None:
                yield x
    elif isinstance(v, dict):
        for x in list(v.values())[:64]:
            if isinstance(x, torch.Tensor) and x.grad_fn is not None:
                yield x


def _outermost_user(frame: FrameType) -> FrameType:
    """The outermost frame of the program around ``frame`` (the script's own): pdb's
    ``where`` and ``up`` stop there; above it are the frames of graphscope that ran it."""
    last = frame
    f: FrameType | None = frame.f_back
    while f is not None:
        name = f.f_code.co_filename
        if _ours(name) or name in ("<frozen runpy>", _RUNPY):
            break
        last = f
        f = f.f_back
    return last
