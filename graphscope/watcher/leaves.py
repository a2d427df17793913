"""How each leaf's ``.grad`` moved across backward calls: accumulated, reset, or changed.

Before every backward call :meth:`LeafTracker.before` reads each leaf's ``.grad``: ``None`` (a
run starts), all zeros (``zero_()``, which bumps no version), the same tensor at the same version
as after the last call (``kept``: the call will sum into it) or something else (``changed`` by the
user). After the call :meth:`LeafTracker.after` writes a :class:`~graphscope.model.GradUpdate`
for every call that summed into a gradient nobody reset, and the picture's values.

A clean training loop resets every gradient at every step: those run starts are kept in two
dicts (no summary, no event) and turned into a full :class:`_LeafState` only when the next call
finds the gradient still set. So the cost per step is a couple of dict writes per leaf.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import torch

from graphscope._tensors import _BATCH_MIN, grad_summaries, grad_summary_lite
from graphscope.model import Events, GradSummary, GradUpdate
from graphscope.watcher.store import GraphStore

__all__ = ["LeafTracker"]

_RESETS = ("none", "zero")
Leaves = list[tuple[str, torch.Tensor]]


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

    def summary(self) -> GradSummary:
        return {"shape": list(self.shape), "numel": self.numel}


class LeafTracker:
    """The leaf-gradient state machine of one session (see the module docstring)."""

    def __init__(self, events: Events, store: GraphStore, sample: int | None) -> None:
        self.events = events
        self.store = store
        self.sample = sample
        self._leaves: dict[int, _LeafState] = {}  # id(leaf) -> state
        # run starts (grad was None) recorded cheaply: id(leaf) -> grad key, and (call, file, line)
        self._fresh: dict[int, tuple[int, int]] = {}
        self._fresh_call: dict[int, tuple[int, str | None, int | None]] = {}
        # per graph: the last call and weak references to its leaves (for the final values)
        self._last: dict[str, tuple[int, list[tuple[str, Any]]]] = {}

    def before(self, leaves: Leaves, gid: str | None) -> dict[int, str]:
        """The state of each leaf's ``.grad`` before this call: zero, kept, changed (only
        leaves whose grad is not None are listed; the rest are "none")."""
        out: dict[int, str] = {}
        for nid, t in leaves:
            g = t.grad
            if g is None:
                continue
            key = id(t)
            state = self._leaves.get(key)
            if state is None and key in self._fresh:
                state = self._promote(key, nid, gid, g)
            same = state is not None and state.grad_key == (id(g), int(g._version))
            try:
                zero = not bool(g.detach().any())
            except Exception:
                zero = False
            if zero:
                out[key] = "zero"
                continue
            out[key] = "kept" if same or state is None else "changed"
            if state is not None and state.pending:
                # this call sums into a value nobody read yet: the one the grad holds now (as
                # the last call left it, or changed since: clipped, unscaled)
                self._materialize(state, grad_summary_lite(g) or {"shape": []}, nid, gid)
        return out

    def after(
        self,
        leaves: Leaves,
        before: dict[int, str],
        index: int,
        where: tuple[str | None, int | None],
        gid: str | None,
    ) -> None:
        """Record what call ``index`` (at ``where``) did to each leaf's ``.grad``."""
        sampled = self.sample is None or index % self.sample == 0
        refresh: list[tuple[dict[str, Any], torch.Tensor]] = []
        fresh: dict[int, tuple[int, int]] = {}
        for nid, t in leaves:
            g = t.grad
            if g is None:
                continue
            key = id(t)
            b = before.get(key)
            if b is None:  # .grad was None: a run starts here. The common case, kept cheap
                fresh[key] = (id(g), g._version)
                d = self.store.node(gid, nid) if sampled else None
                if d is not None:
                    refresh.append((d, g))
                continue
            d = self._update(key, nid, gid, g, b, index, where)
            if d is not None and sampled:  # the picture's value, refreshed on sampled calls
                refresh.append((d, g))
        if fresh:
            self._fresh.update(fresh)
            self._fresh_call.update(dict.fromkeys(fresh, (index, *where)))
            for key in fresh.keys() & self._leaves.keys():
                del self._leaves[key]
        if refresh:
            values = grad_summaries([g for _, g in refresh])
            for (d, _), value in zip(refresh, values, strict=True):
                self.store.set_grad(d, value, index)
        if gid is not None:
            self._remember(gid, index, leaves)

    def _update(
        self,
        key: int,
        nid: str,
        gid: str | None,
        g: torch.Tensor,
        b: str,
        index: int,
        where: tuple[str | None, int | None],
    ) -> dict[str, Any] | None:
        """One leaf whose ``.grad`` was set before the call; returns its node when the
        picture's value is still to be refreshed."""
        state = self._leaves.get(key)
        gk = (id(g), int(g._version))
        if state is not None and state.grad_key == gk and b == "kept":
            return None  # not reached by this call
        d = self.store.node(gid, nid)
        start = b in _RESETS or state is None
        self._fresh.pop(key, None)
        if state is None:
            name = str((d.get("name") if d is not None else None) or nid)
            self._leaves[key] = _LeafState(
                name, gk, index, b, *where, tuple(g.shape), g.numel(), True
            )
            return d
        if state.pending and not start:  # accumulating onto a value we never read
            self._materialize(state, state.summary(), nid, gid)
        state.grad_key, state.index, state.before = gk, index, b
        state.file, state.line = where
        state.pending = start
        if start:
            return d
        summary = grad_summary_lite(g) or {"shape": list(g.shape)}
        self.events.grads.append(GradUpdate(index, state.name, b, summary, *where))
        if d is not None:
            self.store.set_grad(d, summary, index, history=summary)
        return None

    def _remember(self, gid: str, index: int, leaves: Leaves) -> None:
        prev = self._last.get(gid)
        same = (
            prev is not None
            and len(prev[1]) == len(leaves)
            and all(r() is t for (_, r), (_, t) in zip(prev[1][:1], leaves[:1], strict=False))
        )
        if same and prev is not None:
            self._last[gid] = (index, prev[1])
        else:
            self._last[gid] = (index, [(n, weakref.ref(t)) for n, t in leaves])

    def final(self) -> None:
        """At the end of the session: show each graph's leaves with the gradient of the last
        call it stood for, when ``.grad`` still holds exactly that value (same object, same
        version); write the last reset of each leaf for the record; forget every tensor."""
        todo: list[tuple[dict[str, Any], torch.Tensor, int]] = []
        for gid, (index, refs) in self._last.items():
            for nid, ref in refs:
                t = ref()
                g = t.grad if t is not None else None
                if g is None:
                    continue
                key = id(t)
                if key in self._fresh:
                    self._promote(key, nid, gid, g)
                state = self._leaves.get(key)
                if state is None or state.grad_key != (id(g), int(g._version)):
                    continue
                d = self.store.node(gid, nid)
                if state.index == index and d is not None and d.get("grad_call") != index:
                    todo.append((d, g, index))
        grads = [g for _, g, _ in todo]
        summaries = (
            grad_summaries(grads, first_values=True)
            if len(grads) >= _BATCH_MIN
            else [grad_summary_lite(g) for g in grads]
        )
        for (d, _, index), summary in zip(todo, summaries, strict=True):
            self.store.set_grad(d, summary, index)
        for state in self._leaves.values():
            if state.pending:
                self._write(state, state.summary())
        self.clear()

    def clear(self) -> None:
        self._last.clear()
        self._leaves.clear()
        self._fresh.clear()
        self._fresh_call.clear()

    def _promote(self, key: int, nid: str, gid: str | None, g: torch.Tensor) -> _LeafState:
        """Turn a cheap run-start record into a leaf state (when the leaf's grad is found
        still set at the next call: accumulating, or reset by zero_())."""
        gk = self._fresh.pop(key)
        index, file, line = self._fresh_call.pop(key)
        d = self.store.node(gid, nid)
        name = str((d.get("name") if d is not None else None) or nid)
        state = self._leaves[key] = _LeafState(
            name, gk, index, "none", file, line, tuple(g.shape), g.numel(), True
        )
        return state

    def _materialize(
        self, state: _LeafState, summary: GradSummary, nid: str | None, gid: str | None
    ) -> None:
        """Write the update of the call that started an accumulation (kept back until now: a
        clean loop's resets are never written)."""
        self._write(state, summary)
        d = self.store.node(gid, nid)
        if d is not None:
            self.store.set_grad(d, summary, state.index, history=True)

    def _write(self, state: _LeafState, summary: GradSummary) -> None:
        self.events.grads.append(
            GradUpdate(state.index, state.name, state.before, summary, state.file, state.line)
        )
        state.pending = False
