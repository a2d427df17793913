"""``graphscope.watch()``: record a PyTorch program's autograd activity as plain data.

>>> import torch, graphscope
>>> w = torch.tensor([1.0], requires_grad=True)
>>> with graphscope.watch() as scope:
...     for _ in range(2):
...         y = (w + 2) * (w + 1)
...         y.backward()
>>> len(scope.captures), [b.graph for b in scope.events.backward]
(1, ['g1', 'g1'])

While active it

* wraps the autograd engine entry points (``torch.autograd.graph._engine_run_backward`` and
  its alias in ``torch.autograd``; ``torch.autograd.backward`` / ``grad`` for the arguments
  and for errors raised before the engine runs), so every top-level ``Tensor.backward``,
  ``autograd.backward``, ``autograd.grad`` (and what calls them: optimizer closures,
  checkpoint) is captured *before* backward frees the graph;
* composes a :class:`graphscope.recorder.Recorder` for the forward side (source lines and
  module paths of ops, in-place writes, optimizer steps, non-leaf ``.grad`` reads);
* reads each leaf's ``.grad`` before and after every backward call (accumulation, resets),
  and, on the first capture of each distinct graph, hooks the graph's nodes to find where a
  NaN/Inf first appears in a gradient.

Repeated graphs (a training loop) are recognised by a cheap structural fingerprint walk and
not traced again. Everything installed is removed on exit, even when the body raised, and the
scope holds no tensor afterwards.
"""

from __future__ import annotations

import functools
import json
import threading
import warnings
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch

from graphscope._gc import gc_paused
from graphscope._tensors import (
    _BATCH_MIN,
    Names,
    frame_variable,
    grad_summaries,
    grad_summary_lite,
    shape_of,
    user_frame,
    where,
)
from graphscope._version import __version__
from graphscope.model import (
    OP,
    AutogradGraph,
    BackwardCall,
    Events,
    Finding,
    GradUpdate,
    NonFinite,
    jsonable,
)
from graphscope.trace import Capture, capture

__all__ = ["watch", "Scope"]

_RESETS = ("none", "zero")


@dataclass
class _Pending:
    """What the public backward/grad wrapper knows about the call in progress."""

    api: str
    file: str | None
    line: int | None
    gradient_given: bool
    reached_engine: bool = False


@dataclass
class _LeafState:
    """What ``watch`` knows of one leaf's ``.grad`` since the last backward call."""

    name: str
    grad_key: tuple[int, int]  # (id(grad), grad._version) after the last backward
    index: int  # that call
    before: str
    file: str | None
    line: int | None
    shape: tuple[int, ...]
    numel: int
    pending: bool  # that call reset the grad; its update is written only if one accumulates on it


@dataclass
class _Known:
    """A distinct graph seen before: its fingerprint and its leaves' node ids by id(tensor)."""

    gid: str
    fingerprint: tuple[Any, ...]
    leaf_nodes: dict[int, str]


@dataclass
class Scope:
    """What a ``watch`` session saw. Plain data only (no tensors)."""

    captures: list[AutogradGraph] = field(default_factory=list)
    events: Events = field(default_factory=Events)
    script: str | None = None
    notes: list[str] = field(default_factory=list)  # graphscope's own problems, if any
    _findings: list[Finding] | None = None

    @property
    def findings(self) -> list[Finding]:
        """Findings of every check over the captures and events (computed once, on demand)."""
        if self._findings is None:
            from graphscope.checks import run_checks

            self._findings = run_checks(self.captures, self.events)
        return self._findings

    def graphs(self) -> list[AutogradGraph]:
        """The captures with their findings attached (what render draws)."""
        from graphscope.checks import attach

        found = self.findings
        return [attach(g, found) for g in self.captures]

    def report(self) -> str:
        """A short text report: calls, distinct graphs, findings."""
        lines = [
            f"backward calls: {len(self.events.backward)}, distinct graphs: {len(self.captures)}"
        ]
        for g in self.captures:
            calls = g.graph.get("calls", [])
            lines.append(
                f"  {g.graph.get('id')}: {len(g)} nodes, {g.number_of_edges()} edges, "
                f"calls {_ranges(calls)}"
            )
        return "\n".join(lines + self.outcome_lines())

    def outcome_lines(self) -> list[str]:
        """The findings, graphscope's own notes and the script's error, as report lines."""
        found = self.findings
        lines = [f"findings: {len(found)}" if found else "findings: none"]
        for f in found:
            lines.append(f"  {f.severity}: {f.kind} at {_short_path(f.file)}:{f.line}: {f.message}")
            if f.hint:
                lines.append(f"    fix: {f.hint}")
        for note in self.notes:
            lines.append(f"graphscope: {note} (your program was not affected)")
        if self.events.error is not None:
            e = self.events.error
            lines.append(
                f"the script raised {e.type}: {e.message} ({_short_path(e.file)}:{e.line})"
            )
        return lines

    def to_dict(self, files: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The JSON report of DESIGN.md (``files``: graph id -> file written)."""
        err = self.events.error
        return jsonable(
            {
                "graphscope": __version__,
                "script": self.script,
                "backward_calls": len(self.events.backward),
                "graphs": [
                    {
                        "id": g.graph.get("id"),
                        "calls": list(g.graph.get("calls", [])),
                        "nodes": g.number_of_nodes(),
                        "edges": g.number_of_edges(),
                        "file": (files or {}).get(str(g.graph.get("id"))),
                    }
                    for g in self.captures
                ],
                "findings": [f.to_dict() for f in self.findings],
                "error": None
                if err is None
                else {"type": err.type, "message": err.message, "file": err.file, "line": err.line},
            }
        )

    def to_json(self, files: Mapping[str, str] | None = None) -> str:
        return json.dumps(self.to_dict(files), indent=2)


def _short_path(path: str | None) -> str:
    if not path:
        return "?"
    import os

    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def _ranges(calls: Sequence[int]) -> str:
    """``[1, 2, 3, 5]`` -> ``1-3, 5``."""
    out: list[str] = []
    start = prev = None
    for c in list(calls) + [None]:  # type: ignore[list-item]
        if start is None:
            start = prev = c
            continue
        if c is not None and prev is not None and c == prev + 1:
            prev = c
            continue
        out.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = c
    return ", ".join(out)


# -- the session ------------------------------------------------------------------------------


class _Session:
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
    ) -> None:
        self.scope = scope
        self.events = scope.events
        self.explicit = dict(names or {})
        self.params = params
        self.max_graphs = max_graphs
        self.use_recorder = recorder
        self.nonfinite = nonfinite
        self.sample = sample
        self.repeats: dict[str, int] = {}  # graph id -> fast-path hits in a row
        self.known: list[_Known] = []
        self.by_gid: dict[str, AutogradGraph] = {}  # the captures by id
        self.keys: dict[str, tuple[Any, ...]] = {}  # their structure keys, computed when needed
        self.leaves: dict[int, _LeafState] = {}  # id(leaf) -> state
        # run starts (grad was None) recorded cheaply: id(leaf) -> grad key, and (call, file, line)
        self.fresh: dict[int, tuple[int, int]] = {}
        self.fresh_call: dict[int, tuple[int, str | None, int | None]] = {}
        self.pending = threading.local()
        self.busy = False
        self.thread = threading.get_ident()
        self.stale_writes: set[int] = set()
        self._param_names: dict[int, str] | None = None
        self.last_leaves: dict[str, tuple[int, list[tuple[str, Any]]]] = {}
        self.node_cache: dict[tuple[str, str], dict[str, Any]] = {}
        self.seq_after_backward = -1  # the sequence counter when the last backward call ended
        self._param_roots: tuple[int, ...] = ()  # write indexes that made a captured tensor stale
        self.recorder: Any = None
        self.restore: list[Callable[[], None]] = []

    # install / uninstall ------------------------------------------------------------------

    def install(self) -> None:
        if self.use_recorder:
            from graphscope.recorder import Recorder

            self.recorder = Recorder(
                self.events, name_of=self._name_of, backward_count=lambda: len(self.events.backward)
            )
        graph_mod = torch.autograd.graph
        auto_mod = torch.autograd
        orig_engine = getattr(graph_mod, "_engine_run_backward", None)
        if orig_engine is not None:
            wrapped = self._wrap_engine(orig_engine)
            for mod in (graph_mod, auto_mod):
                if getattr(mod, "_engine_run_backward", None) is orig_engine:
                    self._patch(mod, "_engine_run_backward", wrapped)
        self._patch(
            auto_mod,
            "backward",
            self._wrap_public(auto_mod.backward, "backward", "grad_tensors", 1),
        )
        self._patch(auto_mod, "grad", self._wrap_public(auto_mod.grad, "grad", "grad_outputs", 2))
        if self.recorder is not None:
            self.recorder.install()

    def uninstall(self) -> None:
        try:
            with gc_paused():
                self._final_grads()
        except Exception:  # never let a summary break the user's exit path
            pass
        try:
            if self.recorder is not None:
                self.recorder.uninstall()
        finally:
            while self.restore:
                self.restore.pop()()
            self.leaves.clear()
            self.fresh.clear()
            self.fresh_call.clear()
            self.recorder = None

    def _final_grads(self) -> None:
        """Show each graph's leaves with the gradient of the last call it stood for, when
        ``.grad`` still holds exactly that value (same object, same version)."""
        todo: list[tuple[dict[str, Any], torch.Tensor, int]] = []
        for gid, (index, refs) in self.last_leaves.items():
            graph = self._graph(gid)
            for nid, ref in refs:
                t = ref()
                if t is None:
                    continue
                key = id(t)
                g = t.grad
                if key in self.fresh and g is not None:
                    self._promote(key, nid, gid, g)
                state = self.leaves.get(key)
                if (
                    g is None
                    or state is None
                    or state.grad_key != (id(g), int(g._version))
                    or state.index != index
                ):
                    continue
                if nid in graph and graph.nodes[nid].get("grad_call") != index:
                    todo.append((graph.nodes[nid], g, index))
        # one batched summary for all of them (a big model has thousands of parameters)
        grads = [g for _, g, _ in todo]
        summaries = (
            grad_summaries(grads, first_values=True)
            if len(grads) >= _BATCH_MIN
            else [grad_summary_lite(g) for g in grads]
        )
        for (node, _, index), summary in zip(todo, summaries, strict=True):
            node["grad"], node["grad_call"] = summary, index
        self.last_leaves.clear()
        for state in self.leaves.values():  # the last reset of each leaf, for the record
            if state.pending:
                self._materialize_last(state)

    def _materialize_last(self, state: _LeafState) -> None:
        self.events.grads.append(
            GradUpdate(
                state.index,
                state.name,
                state.before,
                {"shape": list(state.shape), "numel": state.numel},
                state.file,
                state.line,
            )
        )
        state.pending = False

    def _patch(self, mod: Any, attr: str, new: Any) -> None:
        old = getattr(mod, attr)
        setattr(mod, attr, new)
        self.restore.append(lambda: setattr(mod, attr, old))

    # names ----------------------------------------------------------------------------------

    def _name_of(self, t: torch.Tensor, variables: bool = True) -> str | None:
        """A tensor's name for the recorder's events: parameters from a table built once per
        set of root modules, other tensors (with ``variables``) from the calling frame's
        variables."""
        roots = tuple(self.recorder._roots) if self.recorder is not None else ()  # ids, cheap
        if self._param_names is None or roots != self._param_roots:
            with gc_paused():
                self._param_names = self._param_table(roots)
        hit = self._param_names.get(id(t))
        if hit is not None or not variables:
            return hit
        return frame_variable(user_frame(2), t)

    def _param_table(self, roots: tuple[int, ...]) -> dict[int, str]:
        """``id -> name`` of the explicit names, ``params`` and the modules' parameters."""
        table = Names()
        for n, v in self.explicit.items():
            if isinstance(v, torch.Tensor):
                table.add(n, v)
        if self.params is not None:
            table.add_params(self.params)
        table.add_frame(user_frame(2), variables=False)  # modules only: names that last
        if self.recorder is not None:
            for m in self.recorder.root_modules():
                table.add_params(m)
        self._param_roots = roots
        return dict(table.name)

    def _names(self, frame: Any) -> tuple[Names, list[int]]:
        """Names for a capture (explicit, then ``params``, then the caller's variables and
        modules, then modules that ran elsewhere) and the parameters expected to be reached:
        those of ``params`` and of the modules whose forward ran."""
        table = Names()
        for n, v in self.explicit.items():
            if isinstance(v, torch.Tensor):
                table.add(n, v)
        expected: set[int] = set()
        if self.params is not None:
            expected.update(table.add_params(self.params))
        table.add_frame(frame)
        if self.recorder is not None:
            for m in self.recorder.root_modules():
                expected.update(table.add_params(m))
        candidates = [k for k in table.name if k in table.params and k in expected]
        return table, candidates

    # wrappers ---------------------------------------------------------------------------------

    def _wrap_public(
        self, orig: Callable[..., Any], api: str, grad_kw: str, grad_pos: int
    ) -> Callable[..., Any]:
        session = self

        @functools.wraps(orig)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if (
                getattr(session.pending, "call", None) is not None
                or threading.get_ident() != session.thread
            ):
                return orig(*args, **kwargs)
            try:
                given = kwargs.get(grad_kw) is not None or (
                    len(args) > grad_pos and args[grad_pos] is not None
                )
                file, line = where(user_frame(2))
            except Exception as err:
                session._internal("reading a backward call's arguments", err)
                return orig(*args, **kwargs)
            pending = _Pending(api, file, line, given)
            session.pending.call = pending
            try:
                return orig(*args, **kwargs)
            except Exception as err:
                if not pending.reached_engine:  # raised before the engine ran (e.g. non-scalar)
                    session._record_failed(pending, args, kwargs, err)
                raise
            finally:
                session.pending.call = None

        return wrapper

    def _wrap_engine(self, orig: Callable[..., Any]) -> Callable[..., Any]:
        session = self

        @functools.wraps(orig)
        def engine(t_outputs: Any, *args: Any, **kwargs: Any) -> Any:
            if (
                session.busy
                or threading.get_ident() != session.thread
                or torch._C._current_graph_task_id() != -1
            ):
                return orig(t_outputs, *args, **kwargs)
            session.busy = True
            try:
                return session._backward(orig, t_outputs, args, kwargs)
            finally:
                session.busy = False

        return engine

    # one backward call -------------------------------------------------------------------------

    def _backward(
        self,
        orig: Callable[..., Any],
        t_outputs: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        """One top-level backward call: capture, run the engine exactly once, record. Our own
        failures are reported as notes and never reach the user's backward."""
        try:
            with gc_paused():
                call = self._prepare(t_outputs, args, kwargs)
        except Exception as err:  # a bug of ours: the user's backward runs as if unwatched
            self._internal("capturing a backward call", err)
            call = None
        error: BaseException | None = None
        try:
            return orig(t_outputs, *args, **kwargs)
        except BaseException as err:
            error = err
            raise
        finally:
            if call is not None:
                try:
                    with gc_paused():
                        self._conclude(call, error)
                except Exception as err:
                    self._internal("recording a backward call", err)

    def _internal(self, what: str, err: Exception) -> None:
        note = f"internal error while {what}: {type(err).__name__}: {err}"
        self.scope.notes.append(note)
        if len(self.scope.notes) == 1:
            warnings.warn(
                f"graphscope: {note} (your program is not affected)", RuntimeWarning, stacklevel=2
            )

    def _prepare(
        self, t_outputs: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        pending: _Pending | None = getattr(self.pending, "call", None)
        if pending is not None:
            pending.reached_engine = True
        accumulate = bool(kwargs.get("accumulate_grad", True))
        api = pending.api if pending is not None else ("backward" if accumulate else "grad")
        file, line = (pending.file, pending.line) if pending is not None else where(user_frame(3))
        roots = [t for t in (t_outputs or ()) if isinstance(t, torch.Tensor)]
        index = len(self.events.backward) + 1
        frame = user_frame(3)
        cap, gid, leaves = self._capture(roots, lambda: self._names(frame), index)
        call: dict[str, Any] = {
            "pending": pending,
            "accumulate": accumulate,
            "api": api,
            "file": file,
            "line": line,
            "roots": roots,
            "index": index,
            "cap": cap,
            "gid": gid,
            "leaves": leaves,
            "retain": bool(args[1]) if len(args) > 1 and args[1] is not None else False,
            "create": bool(args[2]) if len(args) > 2 else False,
            "root_names": tuple(_root_name(cap, r, frame) for r in roots),
            "hooks": [],
        }
        call["before"] = self._before(leaves, gid) if accumulate else {}
        if cap is not None and self.nonfinite:
            call["hooks"] = self._nonfinite_hooks(cap, index, gid)
        return call

    def _conclude(self, call: dict[str, Any], error: BaseException | None) -> None:
        for h in call["hooks"]:
            h.remove()
        pending, roots, gid, cap = call["pending"], call["roots"], call["gid"], call["cap"]
        index, file, line = call["index"], call["file"], call["line"]
        self._record_call(
            index,
            call["api"],
            file,
            line,
            roots,
            call["root_names"],
            call["retain"],
            call["create"],
            pending.gradient_given if pending is not None else False,
            gid,
            error,
        )
        if call["accumulate"]:
            self._after(call["leaves"], call["before"], index, file, line, gid)
        if cap is not None:
            self._finish(cap, index if call["accumulate"] and error is None else None)
        if error is not None and gid is not None and _FREED_TEXT in str(error):
            _mark_freed(self._graph(gid))  # what this call found: the graph already freed
        self._prune()
        self.seq_after_backward = torch._C._autograd._get_sequence_nr()
        self._schedule(index, gid, fresh=cap is not None, failed=error is not None)

    def _record_failed(
        self, pending: _Pending, args: tuple[Any, ...], kwargs: dict[str, Any], err: Exception
    ) -> None:
        first = args[0] if args else kwargs.get("tensors", kwargs.get("outputs"))
        roots = (
            [first]
            if isinstance(first, torch.Tensor)
            else [t for t in (first or ()) if isinstance(t, torch.Tensor)]
        )
        names, _ = self._names(user_frame(3))
        self._record_call(
            len(self.events.backward) + 1,
            pending.api,
            pending.file,
            pending.line,
            roots,
            tuple(names.get(r) or "?" for r in roots),
            bool(kwargs.get("retain_graph") or False),
            bool(kwargs.get("create_graph") or False),
            pending.gradient_given,
            None,
            err,
        )

    def _record_call(
        self,
        index: int,
        api: str,
        file: str | None,
        line: int | None,
        roots: Sequence[torch.Tensor],
        root_names: tuple[str, ...],
        retain: bool,
        create: bool,
        gradient_given: bool,
        gid: str | None,
        error: BaseException | None,
    ) -> None:
        """Append the :class:`BackwardCall` of one call (``error``: what it raised, if anything)."""
        text = None
        if error is not None:
            text = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
        self.events.backward.append(
            BackwardCall(
                index=index,
                api=api,
                file=file,
                line=line,
                roots=root_names,
                root_shapes=tuple(shape_of(r) for r in roots),
                root_requires_grad=tuple(bool(r.requires_grad) for r in roots),
                retain_graph=retain,
                create_graph=create,
                gradient_given=gradient_given,
                graph=gid,
                error=text,
                error_type=None if error is None else type(error).__name__,
            )
        )

    # capture -----------------------------------------------------------------------------------

    def _capture(
        self,
        roots: list[torch.Tensor],
        make_names: Callable[[], tuple[Names, list[int]]],
        index: int,
    ) -> tuple[Capture | None, str | None, list[tuple[str, torch.Tensor]]]:
        """(capture kept for refresh or None, graph id, [(leaf node id, leaf)])."""
        if not roots or all(r.grad_fn is None for r in roots):
            return None, None, []
        fp, leaf_list = _fingerprint(roots)
        # a write recorded after nodes were made since the last backward (during or after this
        # forward) may have made a saved tensor stale: then trace. The optimizer's writes come
        # right after a backward, before any node of the next forward.
        last_write = self.recorder.last_write_seq if self.recorder is not None else -1
        if last_write <= self.seq_after_backward:
            for k in self.known:
                if k.fingerprint == fp:
                    g = self._graph(k.gid)
                    g.graph["calls"].append(index)
                    self.repeats[k.gid] = self.repeats.get(k.gid, 0) + 1
                    ln = k.leaf_nodes
                    return None, k.gid, [(ln[id(v)], v) for v in leaf_list if id(v) in ln]
        if self.max_graphs is not None and len(self.scope.captures) >= self.max_graphs:
            return None, None, []
        provenance = self.recorder.provenance if self.recorder is not None else None
        names, candidates = make_names()
        cap = capture(
            roots,
            names,
            provenance=provenance,
            inplace=self.events.inplace,
            unreached=candidates,
            keep=True,
        )
        g = cap.graph
        key = None  # computed only when there is another capture to compare with
        for existing in self.scope.captures:
            if key is None:
                key = g.structure_key()
            if self._key(existing) == key:  # same structure, reached another way
                existing.graph["calls"].append(index)
                gid = existing.graph["id"]
                _merge_stale(existing, g)
                leaves = _leaf_nodes(cap)
                cap.release()
                return None, gid, leaves
        self.stale_writes.update(_stale_writes(g))
        gid = f"g{len(self.scope.captures) + 1}"
        g.graph.update(id=gid, call=index, calls=[index])
        self.scope.captures.append(g)
        self.by_gid[gid] = g
        if key is not None:
            self.keys[gid] = key
        leaves = _leaf_nodes(cap)
        self.known.append(_Known(gid, fp, {id(t): n for n, t in leaves}))
        return cap, gid, leaves

    def _key(self, g: AutogradGraph) -> tuple[Any, ...]:
        gid = g.graph["id"]
        key = self.keys.get(gid)
        if key is None:
            key = self.keys[gid] = g.structure_key()
        return key

    def _graph(self, gid: str) -> AutogradGraph:
        return self.by_gid[gid]

    def _finish(self, cap: Capture, index: int | None) -> None:
        """Read the new graph's gradients once, after the call that made them (``index``:
        marked as that call's, so that the end of the run need not read them again)."""
        cap.refresh()
        if index is not None:
            g = cap.graph
            for nid in cap._tensors:
                d = g.nodes[nid]
                if d.get("grad") is not None and "grad_call" not in d:
                    d["grad_call"] = index
        cap.release()

    # gradients ---------------------------------------------------------------------------------

    def _before(self, leaves: list[tuple[str, torch.Tensor]], gid: str | None) -> dict[int, str]:
        """The state of each leaf's ``.grad`` before this call: none, zero, kept, changed."""
        out: dict[int, str] = {}  # only leaves whose grad is not None ("none" otherwise)
        for nid, t in leaves:
            g = t.grad
            if g is None:
                continue
            key = id(t)
            state = self.leaves.get(key)
            if state is None and key in self.fresh:
                state = self._promote(key, nid, gid, g)
            same = state is not None and state.grad_key == (id(g), int(g._version))
            try:
                zero = not bool(g.detach().any())
            except Exception:
                zero = False
            if zero:
                out[key] = "zero"  # zero_(), or .data.zero_() which bumps no version
            elif same:
                out[key] = "kept"
                if state is not None and state.pending:  # the grad still holds that value
                    self._materialize(state, grad_summary_lite(g) or {}, nid, gid)
            else:
                out[key] = "changed" if state is not None else "kept"
        return out

    def _promote(self, key: int, nid: str, gid: str | None, g: torch.Tensor) -> _LeafState:
        """Turn a cheap run-start record into a leaf state (when the leaf's grad is found
        still set at the next call: accumulating, or reset by zero_())."""
        gk = self.fresh.pop(key)
        index, file, line = self.fresh_call.pop(key)
        d = self._node(gid, nid)
        name = str((d.get("name") if d is not None else None) or nid)
        state = self.leaves[key] = _LeafState(
            name, gk, index, "none", file, line, tuple(g.shape), g.numel(), True
        )
        return state

    def _materialize(
        self, state: _LeafState, summary: dict[str, Any], nid: str | None, gid: str | None
    ) -> None:
        """Write the update of the call that started an accumulation (kept back until now: a
        clean loop's resets are never written)."""
        self.events.grads.append(
            GradUpdate(state.index, state.name, state.before, summary, state.file, state.line)
        )
        state.pending = False
        d = self._node(gid, nid)
        if d is not None:
            d["grad_history"] = [summary]
            d["grad"], d["grad_call"] = summary, state.index

    def _node(self, gid: str | None, nid: str | None) -> dict[str, Any] | None:
        if gid is None or nid is None:
            return None
        key = (gid, nid)
        d = self.node_cache.get(key)
        if d is None:
            graph = self._graph(gid)
            if nid not in graph:
                return None
            d = self.node_cache[key] = graph.nodes[nid]
        return d

    def _after(
        self,
        leaves: list[tuple[str, torch.Tensor]],
        before: dict[int, str],
        index: int,
        file: str | None,
        line: int | None,
        gid: str | None,
    ) -> None:
        sampled = self.sample is None or index % self.sample == 0
        refresh: list[tuple[Any, torch.Tensor]] = []
        fresh: dict[int, tuple[int, int]] = {}
        for nid, t in leaves:
            g = t.grad
            if g is None:
                continue
            key = id(t)
            b = before.get(key)
            if b is None:  # .grad was None: a run starts here. The common case, kept cheap
                fresh[key] = (id(g), g._version)
                if sampled:
                    d = self._node(gid, nid)
                    if d is not None:
                        refresh.append((d, g))
                continue
            state = self.leaves.get(key)
            gk = (id(g), int(g._version))
            if state is not None and state.grad_key == gk and b == "kept":
                continue  # not reached by this call
            d = self._node(gid, nid)
            start = b in _RESETS or state is None
            self.fresh.pop(key, None)
            if state is None:
                name = str((d.get("name") if d is not None else None) or nid)
                state = self.leaves[key] = _LeafState(
                    name, gk, index, b, file, line, tuple(g.shape), g.numel(), True
                )
            else:
                if state.pending and not start:  # accumulating onto a value we never read
                    self._materialize(
                        state, {"shape": list(state.shape), "numel": state.numel}, nid, gid
                    )
                state.grad_key, state.index, state.before = gk, index, b
                state.file, state.line, state.pending = file, line, start
            if not start:
                summary = grad_summary_lite(g) or {}
                self.events.grads.append(GradUpdate(index, state.name, b, summary, file, line))
                if d is not None:
                    d["grad_history"] = (list(d.get("grad_history") or []) + [summary])[-50:]
                    d["grad"], d["grad_call"] = summary, index
            elif sampled and d is not None:  # the picture's value, refreshed on sampled calls
                refresh.append((d, g))
        if fresh:
            self.fresh.update(fresh)
            self.fresh_call.update(dict.fromkeys(fresh, (index, file, line)))
            for key in fresh.keys() & self.leaves.keys():
                del self.leaves[key]
        if refresh:
            for (node, _), value in zip(
                refresh, grad_summaries([g for _, g in refresh]), strict=True
            ):
                node["grad"], node["grad_call"] = value, index
        if gid is not None:
            prev = self.last_leaves.get(gid)
            if (
                prev is None
                or len(prev[1]) != len(leaves)
                or any(
                    r() is not t for (_, r), (_, t) in zip(prev[1][:1], leaves[:1], strict=False)
                )
            ):
                self.last_leaves[gid] = (index, [(n, weakref.ref(t)) for n, t in leaves])
            else:
                self.last_leaves[gid] = (index, prev[1])

    # keeping a long run small -------------------------------------------------------------------

    def _prune(self) -> None:
        """After a backward call: forget what only mattered until this call."""
        ev = self.events
        if self.recorder is not None:
            self.recorder.forget()
        ev.ops.clear()
        # writes that no check reads once their graph is captured: permitted ones
        ev.inplace[:] = [
            w
            for w in ev.inplace
            if w.raised
            or (w.is_leaf and w.requires_grad and w.grad_enabled)
            or w.index in self.stale_writes
        ]

    def _schedule(self, index: int, gid: str | None, *, fresh: bool, failed: bool) -> None:
        """Record the next forward in full, or only every ``sample``-th one once the graph
        repeats (the per-op recorder is the costly part of ``watch``)."""
        rec = self.recorder
        if rec is None:
            return
        steady = gid is not None and not fresh and not failed and self.repeats.get(gid, 0) >= 2
        if not steady or self.sample is None or index % self.sample == 0:
            rec.resume()
        else:
            rec.pause()

    # non-finite gradients ------------------------------------------------------------------------

    def _nonfinite_hooks(self, cap: Capture, index: int, gid: str | None) -> list[Any]:
        seen: list[bool] = [False]
        handles = []
        events = self.events
        g = cap.graph

        def make(nid: str) -> Callable[..., None]:
            def hook(grad_inputs: Sequence[Any], grad_outputs: Sequence[Any]) -> None:
                if seen[0]:
                    return
                if not _all_finite(grad_inputs) and _all_finite(grad_outputs):
                    seen[0] = True
                    d = g.nodes[nid]
                    events.nonfinite.append(
                        NonFinite(
                            index,
                            gid,
                            nid,
                            str(d.get("name")),
                            _nonfinite_kind(grad_inputs),
                            d.get("file"),
                            d.get("line"),
                        )
                    )

            return hook

        for nid, fn in cap._fns.items():
            if g.nodes[nid].get("kind") != OP:
                continue
            try:
                handles.append(fn.register_hook(make(nid)))
            except Exception:
                continue
        return handles


def _root_name(cap: Capture | None, root: torch.Tensor, frame: Any) -> str:
    """The user's name of a backward root: from the capture when there is one, else the
    calling frame's variables."""
    if cap is not None:
        for nid, t in cap._tensors.items():
            if t is root:
                name = cap.graph.nodes[nid].get("name")
                if name:
                    return str(name)
    return frame_variable(frame, root) or "?"


def _all_finite(tensors: Sequence[Any]) -> bool:
    for t in tensors:
        if isinstance(t, torch.Tensor) and t.is_floating_point() and t.numel():
            try:
                if not bool(torch.isfinite(t).all()):
                    return False
            except Exception:
                continue
    return True


def _nonfinite_kind(tensors: Sequence[Any]) -> str:
    nan = inf = False
    for t in tensors:
        if isinstance(t, torch.Tensor) and t.is_floating_point() and t.numel():
            nan = nan or bool(torch.isnan(t).any())
            inf = inf or bool(torch.isinf(t).any())
    return "nan+inf" if nan and inf else "nan" if nan else "inf"


def _leaf_nodes(cap: Capture) -> list[tuple[str, torch.Tensor]]:
    g = cap.graph
    out = []
    for nid, t in cap._tensors.items():
        d = g.nodes[nid]
        if d.get("is_leaf") and d.get("requires_grad") and d.get("reached", True):
            out.append((nid, t))
    return out


def _fingerprint(roots: Sequence[torch.Tensor]) -> tuple[tuple[Any, ...], list[torch.Tensor]]:
    """A structural key of the graph and its leaves, in one pass: for each node in depth-first
    order its type and the discovery numbers of its inputs; leaves by identity (parameters
    persist across iterations), matched to a capture's nodes by identity.
    """
    ids: dict[Any, int] = {}
    parts: list[Any] = []
    leaves: list[torch.Tensor] = []
    for r in roots:
        if r.grad_fn is None and r.requires_grad:
            leaves.append(r)
    stack = []
    for r in reversed(roots):
        fn = r.grad_fn
        if fn is not None and fn not in ids:
            ids[fn] = len(ids)
            stack.append(fn)
    accumulate = _ACCUMULATE
    while stack:
        fn = stack.pop()
        cls = type(fn)
        if cls is accumulate:
            var = fn.variable  # type: ignore[attr-defined]
            parts.append(id(var))
            leaves.append(var)
            continue
        nexts = fn.next_functions
        parts.append(cls)
        parts.append(len(nexts))
        push = []
        for child, _ in nexts:
            if child is None:
                parts.append(-1)
                continue
            k = ids.get(child)
            if k is None:
                k = ids[child] = len(ids)
                push.append(child)
            parts.append(k)
        if push:
            stack.extend(reversed(push))
    return tuple(parts), leaves


_ACCUMULATE = type(torch.tensor(0.0, requires_grad=True).expand(1).grad_fn.next_functions[0][0])  # type: ignore[union-attr]
_SEQ_MAX = (1 << 64) - 1


_FREED_TEXT = "Trying to backward through the graph a second time"


def _mark_freed(g: AutogradGraph) -> None:
    for _, d in g.nodes(data=True):
        if d.get("kind") == OP and d.get("saved"):
            d["freed"] = True
            d["saved"] = [dict(e, status="freed") for e in d["saved"]]


def _stale_writes(g: AutogradGraph) -> set[int]:
    return {
        i
        for _, d in g.nodes(data=True)
        for e in d.get("saved") or ()
        for i in e.get("writes") or ()
    }


def _merge_stale(existing: AutogradGraph, new: AutogradGraph) -> None:
    """Carry stale saved-tensor entries of a re-capture onto the graph that stands for it."""
    for n, d in new.nodes(data=True):
        saved = d.get("saved") or ()
        if any(e.get("status") == "stale" for e in saved) and n in existing:
            existing.nodes[n]["saved"] = [dict(e) for e in saved]


@contextmanager
def watch(
    *,
    names: Mapping[str, torch.Tensor] | None = None,
    params: Any = None,
    max_graphs: int | None = None,
    recorder: bool = True,
    nonfinite: bool = True,
    sample: int | None = 10,
    script: str | None = None,
) -> Iterator[Scope]:
    """Record autograd activity inside the ``with`` block; yields a :class:`Scope`.

    ``names``/``params`` name tensors as in :func:`graphscope.trace`; ``max_graphs`` caps the
    number of distinct graphs kept; ``recorder=False`` skips the forward recorder (no source
    lines, module paths or in-place culprits, lower overhead); ``nonfinite=False`` skips the
    NaN/Inf hooks. Once a graph repeats (a training loop), the per-op recorder runs on every
    ``sample``-th step only (``sample=None``: every step); backward calls, gradients and
    optimizer steps are recorded at every step regardless.
    """
    scope = Scope(script=script)
    session = _Session(
        scope,
        names=names,
        params=params,
        max_graphs=max_graphs,
        recorder=recorder,
        nonfinite=nonfinite,
        sample=sample,
    )
    session.install()
    try:
        yield scope
    finally:
        session.uninstall()
