"""The coordinator of one ``watch`` session: each backward call is captured, run, recorded.

:class:`Session` owns no state of its own beyond the call counter: the engine hooks
(:mod:`~graphscope.watcher.engine`), the distinct graphs (:mod:`~graphscope.watcher.store`), the
leaves' gradients (:mod:`~graphscope.watcher.leaves`), the names (:mod:`~graphscope.watcher.naming`)
and the forward recorder (:mod:`graphscope.recorder`) each keep theirs. A failure of ours is
reported as a note and never reaches the user's backward or ops.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import torch

from graphscope._gc import gc_paused
from graphscope._tensors import frame_variable, outside_modes, user_frame, where
from graphscope.recorder.guard import Guard
from graphscope.tracer import SPACING, Capture, SilentIndex, capture, protect
from graphscope.watcher.calls import (
    CallRecord,
    PublicCall,
    backward_call,
    engine_args,
    record_event,
)
from graphscope.watcher.diagnostics import Diagnostics
from graphscope.watcher.engine import EngineHooks
from graphscope.watcher.leaves import LeafTracker
from graphscope.watcher.naming import SessionNames
from graphscope.watcher.nonfinite import nonfinite_hooks
from graphscope.watcher.scope import Scope
from graphscope.watcher.stops import Stops
from graphscope.watcher.store import GraphStore, fingerprint

__all__ = ["Session"]

_FREED_TEXT = "Trying to backward through the graph a second time"
_get_seq = torch._C._autograd._get_sequence_nr


class Session:
    """Installs the hooks, and turns each top-level backward call into a capture and events."""

    def __init__(
        self,
        scope: Scope,
        *,
        names: Mapping[str, torch.Tensor] | None,
        params: Any,
        max_graphs: int | None,
        recorder: bool,
        nonfinite: bool,
        sample: int | None,
        debug: bool = False,
    ) -> None:
        self.scope = scope
        self.events = scope.events
        self.guard = Guard(self._report_internal)
        self.nonfinite = nonfinite
        self.sample = sample
        self.store = GraphStore(max_graphs)
        scope.captures = self.store.captures
        self.leaves = LeafTracker(scope.events, self.store, sample)
        self.recorder: Any = None
        if recorder:
            from graphscope.recorder import Recorder

            self.recorder = Recorder(
                self.events,
                name_of=self._name_of,
                backward_count=lambda: len(self.events.backward),
                guard=self.guard,
            )
        rec = self.recorder
        self.names = SessionNames(
            names,
            params,
            root_modules=rec.named_roots if rec is not None else list,
            root_ids=rec.root_ids if rec is not None else tuple,
            graphless=rec.graphless if rec is not None else lambda: (set(), set(), set()),
        )
        self.hooks = EngineHooks(self)
        self.stops: Stops | None = None
        if debug and rec is not None:  # --pdb: stop at the write that makes a saved tensor stale
            self.stops = Stops(
                self.events,
                lambda frame: self.names.for_capture(frame)[0],
                rec.provenance,
                rec.quiet,
                self.on_internal,
            )
            self.stops.stopped = scope.stopped_at
            self.stops.findings = scope.stop_findings
            rec.writes.on_writes = self.stops.on_writes
            rec.steps.on_step_done = self.stops.step_done
        self.seq_after_backward = -1  # the sequence counter when the last backward call ended
        self.diag = Diagnostics(self)
        self._shallow: set[str] = set()  # graphs too shallow to need freeing.protect
        self._other_threads: dict[str, int] = {}  # thread name -> backward calls not captured
        self._thread_note: int | None = None  # index of their note in scope.notes
        self._thread_name = threading.current_thread().name

    def _name_of(self, t: torch.Tensor, variables: bool = True) -> str | None:
        return self.names.name_of(t, variables)

    def install(self) -> None:
        """Install the engine hooks and the recorder; an error of ours doing so leaves nothing
        installed (a note says why) and the program runs unwatched."""
        try:
            self.hooks.install()
            if self.recorder is not None:
                self.recorder.install()
        except Exception as err:
            self.on_internal("installing its hooks", err)
            self.uninstall()

    def uninstall(self) -> None:
        """Remove everything :meth:`install` added, each part on its own: an error of ours in
        one part is a note, and the others are still removed."""
        rec, self.recorder = self.recorder, None
        for what, remove in (
            ("summarizing the gradients", self._final),
            ("removing the recorder", rec.uninstall if rec is not None else None),
            ("removing the engine hooks", self.hooks.uninstall),
        ):
            if remove is None:
                continue
            try:
                remove()
            except Exception as err:
                self.on_internal(what, err)

    def _final(self) -> None:
        try:
            with gc_paused():
                self.leaves.final()
        finally:  # the summary of what was read so far stands; the leaves are let go
            self.leaves.clear()

    # the engine hooks' listener -------------------------------------------------------------

    def on_engine(
        self,
        orig: Callable[..., Any],
        t_outputs: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        public: PublicCall | None,
    ) -> Any:
        """One top-level backward call: capture, run the engine exactly once, record."""
        if self.guard.off:  # an error of ours stopped the recording: the call runs as is
            return orig(t_outputs, *args, **kwargs)
        try:
            with gc_paused():
                rec = self._prepare(t_outputs, args, kwargs, public)
        except Exception as err:  # a bug of ours: the user's backward runs as if unwatched
            self.on_internal("capturing a backward call", err)
            rec = None
        error: BaseException | None = None
        try:
            return orig(t_outputs, *args, **kwargs)
        except BaseException as err:
            error = err
            raise
        finally:
            if rec is not None:
                try:
                    with gc_paused():
                        self._conclude(rec, error)
                except Exception as err:
                    self.on_internal("recording a backward call", err)

    def on_failed(
        self, public: PublicCall, args: tuple[Any, ...], kwargs: dict[str, Any], err: Exception
    ) -> None:
        """A public ``backward``/``grad`` call that raised before reaching the engine."""
        first = args[0] if args else kwargs.get("tensors", kwargs.get("outputs"))
        roots = (
            [first]
            if isinstance(first, torch.Tensor)
            else [t for t in (first or ()) if isinstance(t, torch.Tensor)]
        )
        names, _ = self.names.for_capture(user_frame(3))
        flags = (
            bool(kwargs.get("retain_graph") or False),
            bool(kwargs.get("create_graph") or False),
            public.gradient_given,
        )
        self.events.backward.append(
            backward_call(
                len(self.events.backward) + 1,
                public.api,
                (public.file, public.line),
                roots,
                tuple(names.get(r) or "?" for r in roots),
                flags,
                None,
                err,
            )
        )

    def on_internal(self, what: str, err: Exception) -> None:
        """An error of ours inside a hook: stop recording (:mod:`graphscope.recorder.guard`)."""
        self.guard.fail(what, err)

    def _report_internal(self, what: str, err: Exception) -> None:
        """The guard's report: a note (once per distinct error) and, for the first one, a
        warning, which must not raise even under ``-W error`` (the user's program goes on)."""
        note = f"internal error while {what}: {type(err).__name__}: {err}"
        if note in self.scope.notes:
            return
        self.scope.notes.append(note)
        if len(self.guard.failures) == 1:
            try:
                warnings.warn(
                    f"graphscope: {note}; recording stopped there (your program is not affected)",
                    RuntimeWarning,
                    stacklevel=2,
                )
            except Exception:  # warnings turned into errors: the note in the report remains
                pass

    def on_other_thread(self, thread: str) -> None:
        """A top-level backward call in another thread: not captured, but said so (a note)."""
        counts = self._other_threads
        counts[thread] = counts.get(thread, 0) + 1
        total = sum(counts.values())
        names = ", ".join(sorted(counts))
        note = (
            f"{total} backward call(s) in other threads ({names}) were not captured: graphscope "
            f"watches the thread that started it ({self._thread_name})"
        )
        notes = self.scope.notes
        if self._thread_note is None:
            self._thread_note = len(notes)
            notes.append(note)
        else:
            notes[self._thread_note] = note

    # one call --------------------------------------------------------------------------------

    @outside_modes
    def _prepare(
        self,
        t_outputs: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        public: PublicCall | None,
    ) -> CallRecord:
        accumulate, retain, create = engine_args(args, kwargs)
        frame = user_frame(2)
        api = public.api if public is not None else ("backward" if accumulate else "grad")
        file, line = (public.file, public.line) if public is not None else where(frame)
        roots = [t for t in (t_outputs or ()) if isinstance(t, torch.Tensor)]
        index = len(self.events.backward) + 1
        cap, gid, leaves, nodes = self._capture(roots, frame, index)
        rec = CallRecord(
            index=index,
            api=api,
            file=file,
            line=line,
            roots=roots,
            root_names=tuple(_root_name(cap, r, frame) for r in roots),
            accumulate=accumulate,
            retain=retain,
            create=create,
            gradient_given=public.gradient_given if public is not None else False,
            cap=cap,
            gid=gid,
            leaves=leaves,
            nodes=nodes,
        )
        if accumulate:
            rec.before = self.leaves.before(leaves, gid)
        if cap is not None and self.nonfinite:
            rec.hooks = nonfinite_hooks(cap, index, gid, self.events, guard=self.guard)
        self.diag.prepare(rec, frame)
        return rec

    def _capture(
        self, roots: list[torch.Tensor], frame: Any, index: int
    ) -> tuple[Capture | None, str | None, list[tuple[str, torch.Tensor]], int | None]:
        """(capture kept for refresh or None, graph id, [(leaf node id, leaf)], backward nodes
        in the graph)."""
        if not roots or all(r.grad_fn is None for r in roots):
            return None, None, [], None
        fp, leaf_list, nodes = fingerprint(roots)
        self._protect(roots, fp)
        # a write recorded after nodes were made since the last backward (during or after this
        # forward) may have made a saved tensor stale: then trace. The optimizer's writes come
        # right after a backward, before any node of the next forward.
        last_write = self.recorder.last_write_seq if self.recorder is not None else -1
        if last_write <= self.seq_after_backward:
            hit = self.store.repeat(fp, leaf_list, index)
            if hit is not None:
                return None, *hit, nodes
        if self.store.full:
            return None, None, [], nodes
        names, candidates = self.names.for_capture(frame)
        cap = capture(
            roots,
            names,
            provenance=self.recorder.provenance if self.recorder is not None else None,
            inplace=self.events.inplace,
            unreached=candidates,
            keep=True,
            silent=SilentIndex(self.events.inplace, self.events.exports, self.seq_after_backward),
            memory=True,
        )
        gid, leaves, new = self.store.add(cap, fp, index)
        if not new:
            cap.release()
            return None, gid, leaves, nodes
        if self.recorder is not None:
            self.store.set_modules(gid, self.recorder.module_facts())
        return cap, gid, leaves, nodes

    def _protect(self, roots: list[torch.Tensor], fp: tuple[Any, ...]) -> None:
        """The fingerprint walk gave the graph's nodes Python wrappers: make it safe to free
        however deep it is (:func:`graphscope.tracer.protect`). A repeat of a graph that
        needed nothing needs nothing again."""
        if len(fp) < SPACING:
            return
        gid = self.store.known_gid(fp)
        if gid is not None and gid in self._shallow:
            return
        if protect(roots) == 0 and gid is not None:
            self._shallow.add(gid)

    @outside_modes
    def _conclude(self, rec: CallRecord, error: BaseException | None) -> None:
        for h in rec.hooks:
            h.remove()
        self.events.backward.append(record_event(rec, error))
        if rec.accumulate:
            self.leaves.after(rec.leaves, rec.before, rec.index, (rec.file, rec.line), rec.gid)
        self.diag.conclude(rec, error)
        if rec.cap is not None:
            self._finish(rec.cap, rec.index if rec.accumulate and error is None else None)
        if error is not None and rec.gid is not None and _FREED_TEXT in str(error):
            self.store.mark_freed(rec.gid)
        self._prune()
        self.seq_after_backward = _get_seq()
        if self.stops is not None and error is None:
            self.stops.backward_done(rec.retain, rec.create, self.seq_after_backward, rec.roots)
        self._schedule(rec.index, rec.gid, fresh=rec.cap is not None, failed=error is not None)

    def _finish(self, cap: Capture, index: int | None) -> None:
        """Read the new graph's gradients once, after the call that made them (``index``:
        marked as that call's, so that the end of the run need not read them again)."""
        cap.refresh()
        if index is not None:
            g = cap.graph
            for nid in cap.tensors:
                d = g.nodes[nid]
                if d.get("grad") is not None and "grad_call" not in d:
                    d["grad_call"] = index
        cap.release()

    # keeping a long run small -----------------------------------------------------------------

    def _prune(self) -> None:
        """After a backward call: forget what only mattered until this call."""
        ev = self.events
        if self.recorder is not None:
            self.recorder.forget()
        ev.ops.clear()
        # writes that no check reads once their graph is captured: permitted ones
        stale = self.store.stale_writes
        ev.inplace[:] = [
            w
            for w in ev.inplace
            if w.raised or (w.is_leaf and w.requires_grad and w.grad_enabled) or w.index in stale
        ]

    def _schedule(self, index: int, gid: str | None, *, fresh: bool, failed: bool) -> None:
        """Record the next forward in full, or only every ``sample``-th one once the graph
        repeats (the per-op recorder is the costly part of ``watch``)."""
        rec = self.recorder
        if rec is None:
            return
        steady = (
            gid is not None and not fresh and not failed and self.store.repeats.get(gid, 0) >= 2
        ) and self.diag.locate is None  # a NaN to locate: record the next forward in full
        if not steady or self.sample is None or index % self.sample == 0:
            rec.resume()
        else:
            rec.pause()


def _root_name(cap: Capture | None, root: torch.Tensor, frame: Any) -> str:
    """The user's name of a backward root: from the capture when there is one, else the
    calling frame's variables."""
    if cap is not None:
        for nid, t in cap.tensors.items():
            if t is root:
                name = cap.graph.nodes[nid].get("name")
                if name:
                    return str(name)
    return frame_variable(frame, root) or "?"
