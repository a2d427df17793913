"""Reentrant checkpoints whose inputs do not require grad, for ``checkpoint-no-grad``.

``torch.utils.checkpoint.checkpoint(fn, *args, use_reentrant=True)`` is
``CheckpointFunction.apply(fn, preserve, *args)``: ``fn`` runs under ``no_grad`` and the
output gets a graph only through the inputs. When none of them requires grad the output has no
graph at all, and the parameters of the modules ``fn`` runs get no gradient from it; torch only
warns "None of the inputs have requires_grad=True. Gradients will be None".

While installed, ``CheckpointFunction.apply`` is wrapped (one attribute on that class, removed
on uninstall). A call made in the watched thread with gradients on and no tensor input that
requires grad runs with a global module pre-hook that collects the modules called inside it;
it becomes a :class:`~graphscope.model.CheckpointNoGrad` naming their parameters that require
grad: one per line, and a checkpoint fed the output of an earlier one (the next block, the same
line in a loop) joins that one's event (one cause: fixing the first gives the next an input
that requires grad). Around the next backward call their ``.grad`` is compared (object and
version) before and after: the ones it left unchanged are the event's ``missing`` (a parameter
also used outside the checkpoint still gets its gradient, and is not). Other calls pass straight through: the cost is one wrapper call per
checkpoint, nothing per op.
"""

from __future__ import annotations

import linecache
import threading
import weakref
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import torch
from torch.nn.modules.module import register_module_forward_pre_hook

from graphscope._tensors import user_frame, where
from graphscope.model import CheckpointNoGrad, Events

__all__ = ["Checkpoints"]

NameOf = Callable[[torch.Tensor, bool], "str | None"]
_OUTS_KEPT = 16  # outputs of recent such checkpoints remembered (weakly)


class Checkpoints:
    """See the module docstring. ``backward_count()`` is the number of backward calls so far."""

    def __init__(self, events: Events, name: NameOf, backward_count: Callable[[], int]) -> None:
        self.events = events
        self.name = name
        self.backward_count = backward_count
        self.thread = -1
        self._cls: Any = None
        #: (weak output, event index, backward calls before it) of recent such checkpoints
        self._outs: list[tuple[Any, int, int]] = []
        #: event index -> (name, weak parameter) of the calls since the last backward call
        self._pending: dict[int, dict[int, tuple[str, Any]]] = {}
        self._keys: dict[int, tuple[int, int] | None] = {}  # id(param) -> its .grad before
        #: ``id()`` of the modules run inside such a checkpoint: their parameters are expected
        #: (drawn unreached in the graph), as for a module whose forward made backward nodes
        self.cut_modules: set[int] = set()

    def install(self) -> None:
        try:
            from torch.utils.checkpoint import CheckpointFunction
        except ImportError:  # a torch without the reentrant implementation
            return
        if "apply" in CheckpointFunction.__dict__:  # someone else's wrapper: leave it alone
            return
        self.thread = threading.get_ident()
        orig = CheckpointFunction.apply
        seen = self

        def apply(cls: Any, function: Any, preserve: Any, *args: Any) -> Any:
            if (
                threading.get_ident() != seen.thread
                or not torch.is_grad_enabled()
                or any(isinstance(a, torch.Tensor) and a.requires_grad for a in args)
            ):
                return orig(function, preserve, *args)
            return seen._watched(orig, function, preserve, args)

        CheckpointFunction.apply = classmethod(apply)  # type: ignore[assignment,method-assign]
        self._cls = CheckpointFunction

    def uninstall(self) -> None:
        cls, self._cls = self._cls, None
        if cls is not None and "apply" in cls.__dict__:
            delattr(cls, "apply")
        self._outs.clear()
        self._pending.clear()
        self._keys.clear()
        self.cut_modules.clear()

    def backward_starting(self) -> None:
        """Before a backward call: the ``.grad`` of the parameters waiting for one."""
        self._keys = {
            pid: _grad_key(p)
            for params in self._pending.values()
            for pid, (_, ref) in params.items()
            if (p := ref()) is not None
        }

    def backward_done(self, index: int) -> None:
        """After backward call ``index``: which waiting parameters it gave no gradient."""
        pending, self._pending = self._pending, {}
        for i, params in pending.items():
            missing = []
            for pid, (name, ref) in params.items():
                p = ref()
                if p is None or pid not in self._keys:
                    continue
                after = _grad_key(p)
                if after is None or after == self._keys[pid]:
                    missing.append(name)
            e = self.events.checkpoints[i]
            if e.missing is None:
                self.events.checkpoints[i] = replace(e, missing=tuple(missing), call=index)
        self._keys = {}

    def _watched(self, orig: Any, function: Any, preserve: Any, args: tuple[Any, ...]) -> Any:
        """Run one checkpoint whose inputs need no grad, noting the modules called inside."""
        ran: dict[int, torch.nn.Module] = {}

        def pre(module: torch.nn.Module, inputs: Any) -> None:
            ran.setdefault(id(module), module)

        handle = register_module_forward_pre_hook(pre)
        out = None
        try:
            out = orig(function, preserve, *args)
            return out
        finally:
            handle.remove()
            try:
                self._record(function, ran, args, out)
            except Exception:  # never let our bookkeeping break the user's call
                pass

    def _record(
        self, function: Any, ran: dict[int, torch.nn.Module], args: tuple[Any, ...], out: Any
    ) -> None:
        if isinstance(function, torch.nn.Module):
            ran.setdefault(id(function), function)
        params: dict[int, torch.Tensor] = {}
        for m in ran.values():
            for p in m.parameters(recurse=False):
                if p.requires_grad:
                    params.setdefault(id(p), p)
        if not params:
            return
        self.cut_modules.update(id(m) for m in ran.values())
        file, line = where(user_frame(3))
        done = self.backward_count()
        names = tuple(self.name(p, False) or "a parameter" for p in params.values())
        # fed the output of an earlier such checkpoint (the next block, the same line in a
        # loop): the same cause, one event
        i = self._fed_by(args, done)
        if i is None:
            i = next(
                (
                    k
                    for k, e in enumerate(self.events.checkpoints)
                    if (e.file, e.line) == (file, line)
                ),
                None,
            )
        if i is not None:
            e = self.events.checkpoints[i]
            merged = tuple(dict.fromkeys((*e.params, *names)))
            if merged != e.params or e.after_call == done:
                calls = e.calls + 1 if e.after_call == done else e.calls
                self.events.checkpoints[i] = replace(e, params=merged, calls=calls)
        else:
            text = linecache.getline(file, line).strip() if file and line else None
            self.events.checkpoints.append(CheckpointNoGrad(file, line, text or None, names, done))
            i = len(self.events.checkpoints) - 1
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor):
                self._outs.append((weakref.ref(t), i, done))
        del self._outs[:-_OUTS_KEPT]
        waiting = self._pending.setdefault(i, {})
        for name, param in zip(names, params.values(), strict=True):
            waiting.setdefault(id(param), (name, weakref.ref(param)))

    def _fed_by(self, args: tuple[Any, ...], done: int) -> int | None:
        """The event of the earlier checkpoint (since the last backward call) whose output is
        one of ``args``."""
        for ref, i, after in reversed(self._outs):
            t = ref()
            if after == done and t is not None and any(a is t for a in args):
                return i
        return None


def _grad_key(p: torch.Tensor) -> tuple[int, int] | None:
    g = p.grad
    return None if g is None else (id(g), int(g._version))
