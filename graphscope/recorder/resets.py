"""Gradient resets and where optimizers were built, for the optimizer step hooks.

While installed, ``Optimizer.zero_grad`` and ``Module.zero_grad`` are wrapped to remember the
last reset (the user's line, and how many backward calls had been made), and
``Optimizer.__init__`` to remember where each optimizer was built (an
:class:`~graphscope.model.OptimizerBuilt` each). At each step
:meth:`Resets.before_step` writes a :class:`~graphscope.model.StepAfterReset` when the step is
about to use gradients that a reset threw away: a backward call happened since this
optimizer's previous step, a reset came after the last backward call, and every parameter's
``.grad`` is None or zero. The all-zero test runs only in that rare case. Each optimizer gets an
ordinal (1, 2, ...) so that two optimizers of one class are told apart.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable
from typing import Any

import torch

from graphscope._tensors import user_frame, where
from graphscope.model import Events, OptimizerBuilt, StepAfterReset
from graphscope.names import module_name, object_name

__all__ = ["Resets"]

_get_ident = threading.get_ident


class Resets:
    """See the module docstring. ``backward_count()`` is the number of backward calls so far."""

    def __init__(self, events: Events, backward_count: Callable[[], int]) -> None:
        self.events = events
        self.backward_count = backward_count
        self.thread = -1
        #: the last zero_grad(): (owner (weak), class name, file, line, backward calls before it)
        self._last: tuple[Any, str, str | None, int | None, int] | None = None
        self._ids: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
        self._built: weakref.WeakKeyDictionary[Any, tuple[str | None, int | None]] = (
            weakref.WeakKeyDictionary()
        )
        self._stepped: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
        self._restore: list[Callable[[], None]] = []
        #: the user's name for an optimizer (the step hooks' one lookup per optimizer)
        self.namer: Callable[[Any], str | None] = lambda optimizer: None

    def install(self) -> None:
        self.thread = _get_ident()
        self._wrap(torch.optim.Optimizer, "zero_grad", self._zero_grad)
        self._wrap(torch.nn.Module, "zero_grad", self._zero_grad)
        self._wrap(torch.optim.Optimizer, "__init__", self._init)

    def uninstall(self) -> None:
        while self._restore:
            self._restore.pop()()
        self._last = None

    def ordinal(self, optimizer: Any) -> int:
        """1, 2, ... for each optimizer, in order of first use."""
        n = self._ids.get(optimizer)
        if n is None:
            n = self._ids[optimizer] = len(self._ids) + 1
        return n

    def built_at(self, optimizer: Any) -> tuple[str | None, int | None]:
        return self._built.get(optimizer, (None, None))

    def before_step(self, optimizer: Any, step_site: tuple[str | None, int | None]) -> None:
        """At ``optimizer.step()``: record a step about to use gradients a reset threw away."""
        calls = self.backward_count()
        previous = self._stepped.get(optimizer, 0)
        self._stepped[optimizer] = calls
        last = self._last
        if last is None or calls == 0 or previous >= calls or last[4] != calls:
            return
        params = [p for g in optimizer.param_groups for p in g["params"]]
        grads = [p.grad for p in params if p.grad is not None]
        if any(bool(g.detach().any()) for g in grads):
            return
        owner = last[0]() if last[0] is not None else None
        var = _name_of(owner) if owner is not None else None
        self.events.resets.append(
            StepAfterReset(
                optimizer=type(optimizer).__name__,
                step_file=step_site[0],
                step_line=step_site[1],
                reset=f"{var}.zero_grad()" if var else _prose(owner, last[1]),
                file=last[2],
                line=last[3],
                call=calls,
                name=self.namer(optimizer),
            )
        )

    def _wrap(self, cls: type, attr: str, make: Callable[[Any], Any]) -> None:
        orig = cls.__dict__[attr]
        setattr(cls, attr, make(orig))
        self._restore.append(lambda: setattr(cls, attr, orig))

    def _zero_grad(self, orig: Any) -> Any:
        resets = self

        @functools.wraps(orig)
        def zero_grad(self: Any, *args: Any, **kwargs: Any) -> Any:
            out = orig(self, *args, **kwargs)
            if _get_ident() == resets.thread:
                try:
                    resets._reset(self)
                except Exception:  # never let our bookkeeping break the user's call
                    pass
            return out

        return zero_grad

    def _reset(self, owner: Any) -> None:
        file, line = where(user_frame(3))
        try:
            ref: Any = weakref.ref(owner)
        except TypeError:
            ref = None
        self._last = (ref, type(owner).__name__, file, line, self.backward_count())

    def _init(self, orig: Any) -> Any:
        resets = self

        @functools.wraps(orig)
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:  # noqa: N807
            orig(self, *args, **kwargs)
            if _get_ident() == resets.thread:
                try:
                    again = self in resets._built  # __init__ run twice on one optimizer
                    site = resets._built[self] = where(user_frame(2))
                    if not again:
                        resets.events.built.append(OptimizerBuilt(type(self).__name__, *site))
                except Exception:
                    pass

        return __init__


def _name_of(owner: Any) -> str | None:
    """The user's name for what ``zero_grad()`` was called on: an optimizer (``opt_d``,
    ``self.optimizer``) or a module (``model``, ``model.encoder``)."""
    frame = user_frame(3)
    name = object_name(frame, owner)
    if name is None and isinstance(owner, torch.nn.Module):
        name = module_name(frame, owner)
    return name


def _prose(owner: Any, cls: str) -> str:
    """``the Adam optimizer's zero_grad()``: the reset of an owner the user's code does not
    name, in words (no variable that would not run)."""
    kind = "module" if isinstance(owner, torch.nn.Module) else "optimizer"
    return f"the {cls} {kind}'s zero_grad()"
