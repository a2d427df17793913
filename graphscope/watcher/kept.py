"""Losses of earlier iterations still alive in a container: :class:`~graphscope.model.KeptAlive`.

Each backward call's first root (the loss) is remembered by a weak reference. When several
roots of calls made long ago (:data:`AGE` calls or more) are still alive and still attached to
their graphs, something keeps them: the user's frame is searched for the list (or tuple, dict,
deque) that holds them, and the frame's code for the statement that adds to it
(``losses.append(loss)``). Reported once. Costs a weak reference per call.
"""

from __future__ import annotations

import collections
import dis
import weakref
from types import FrameType
from typing import Any

import torch

from graphscope._tensors import _drop_locals_snapshot, frame_namespaces
from graphscope.model import Events, KeptAlive

__all__ = ["RootWatch"]

AGE = 8  # calls after which a loss still alive counts as kept
_MIN = 3  # losses kept before it is reported
_ADDERS = frozenset({"append", "extend", "insert", "appendleft", "add"})
_LOADS = frozenset({"LOAD_NAME", "LOAD_FAST", "LOAD_GLOBAL", "LOAD_DEREF"})


class RootWatch:
    """Weak references to the roots of the recent backward calls."""

    def __init__(self, events: Events) -> None:
        self.events = events
        self._refs: collections.deque[tuple[int, Any]] = collections.deque(maxlen=4 * AGE)
        self._done = False

    def at_call(self, index: int, roots: list[torch.Tensor], frame: FrameType | None) -> None:
        """Backward call ``index`` on ``roots``, called from ``frame``."""
        if self._done:
            return
        root = next((r for r in roots if r.grad_fn is not None), None)
        if root is None:
            return
        self._refs.append((index, weakref.ref(root)))
        old = [ref() for i, ref in self._refs if i <= index - AGE]
        alive = [t for t in old if t is not None and t.grad_fn is not None]
        if len(alive) < _MIN:
            return
        name = _holder(frame, {id(t) for t in alive})
        if name is None:
            return
        self._done = True
        line = _adding_line(frame, name) if frame is not None else None
        file = frame.f_code.co_filename if frame is not None and line is not None else None
        self.events.kept.append(KeptAlive(name, file, line, len(alive), index))


def _holder(frame: FrameType | None, ids: set[int]) -> str | None:
    """The variable of ``frame`` whose container holds one of the tensors ``ids``."""
    spaces = frame_namespaces(frame)
    try:
        for space in spaces:
            for k, v in list(space.items()):
                if k.startswith("__"):
                    continue
                items: Any = None
                if isinstance(v, (list, tuple, collections.deque)):
                    items = v
                elif isinstance(v, dict):
                    items = v.values()
                if items is not None and any(id(x) in ids for x in items):
                    return str(k)
        return None
    finally:
        _drop_locals_snapshot(spaces)


def _adding_line(frame: FrameType, name: str) -> int | None:
    """The line of ``name.append(...)`` (or ``extend``, ``insert``) in the frame's code."""
    instrs = list(dis.get_instructions(frame.f_code))
    for a, b in zip(instrs, instrs[1:], strict=False):
        if a.opname in _LOADS and a.argval == name and b.argval in _ADDERS:
            pos = getattr(a, "positions", None)  # 3.11+; before: the line it starts
            lineno = pos.lineno if pos is not None else a.starts_line
            return int(lineno) if lineno is not None else None
    return None
