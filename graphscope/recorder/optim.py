"""Optimizer steps: an :class:`~graphscope.model.OptimizerStep` after each ``optimizer.step()``.

Writes made inside ``optimizer.step()`` are recorded for the optimizer's parameters only (not its
state buffers such as ``exp_avg``), with the line of the ``step()`` call. Before each step,
:class:`~graphscope.recorder.resets.Resets` looks for gradients reset since the last backward call,
each of ``watchers`` is told of the step (module modes, :mod:`~graphscope.recorder.modes`), and,
once the session has seen a NaN or Inf gradient (``check_nonfinite``), the step's gradients are
checked for one (a :class:`~graphscope.model.NonFiniteStep`: the step used it).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any, cast

import torch
from torch.optim.optimizer import (
    register_optimizer_step_post_hook,
    register_optimizer_step_pre_hook,
)

from graphscope._tensors import outside_modes, user_frame
from graphscope.model import Events, NonFiniteStep, OptimizerStep
from graphscope.names import object_name
from graphscope.recorder.guard import Guard
from graphscope.recorder.resets import Resets
from graphscope.recorder.sites import Sites
from graphscope.recorder.writes import Writes

__all__ = ["StepHooks"]

_get_ident = threading.get_ident
_is_compiling = getattr(getattr(torch, "compiler", None), "is_compiling", lambda: False)
_MAX_NONFINITE_STEPS = 16  # NonFiniteStep events kept (the first ones tell the story)


class StepHooks:
    """The global optimizer step hooks. ``pause_point()`` is called at each step boundary (a
    safe point for a pending pause) and returns whether recording is paused."""

    def __init__(
        self,
        events: Events,
        sites: Sites,
        writes: Writes,
        *,
        name: Callable[[torch.Tensor], str | None],
        backward_count: Callable[[], int],
        pause_point: Callable[[], bool],
        resets: Resets | None = None,
        guard: Guard | None = None,
    ) -> None:
        self.events = events
        self.guard = guard or Guard()
        self.resets = resets
        self.sites = sites
        self.writes = writes
        self.name = name
        self.backward_count = backward_count
        self.pause_point = pause_point
        self.thread = -1
        self._handles: list[Any] = []
        #: ids of the parameters that had a grad at a step -> their names (a training loop asks
        #: for the same set at every step: one name lookup per parameter, once)
        self._name_cache: dict[tuple[object, ...], tuple[str, ...]] = {}
        #: told of every step before it runs: ``watcher(optimizer, (file, line))``
        self.watchers: list[Callable[[torch.optim.Optimizer, tuple[str | None, int | None]], None]]
        self.watchers = []
        self.check_nonfinite = False  # set once a NaN/Inf gradient was seen
        #: called when a step ended (``--pdb``: its writes are checked together), else None
        self.on_step_done: Callable[[], None] | None = None
        self.in_scaler_step = False  # inside GradScaler.step: it checked the gradients itself
        #: the user's name for each optimizer, found at its first step
        self._opt_names: weakref.WeakKeyDictionary[Any, str | None] = weakref.WeakKeyDictionary()

    def install(self) -> None:
        self.thread = _get_ident()
        guard = self.guard.hook
        self._handles.append(
            register_optimizer_step_pre_hook(guard("an optimizer step", self._pre))
        )
        self._handles.append(
            register_optimizer_step_post_hook(guard("an optimizer step", self._post))
        )

    def uninstall(self) -> None:
        while self._handles:
            self._handles.pop().remove()
        self.writes.step_params = None
        self._name_cache.clear()

    def _pre(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if _is_compiling() or _get_ident() != self.thread:
            return
        if self.guard.off:  # an error of ours stopped recording: only the pause point is kept
            self.pause_point()
            return
        site = self.sites.where()
        if self.resets is not None:
            try:
                self.resets.before_step(optimizer, site)
            except Exception:  # never let our bookkeeping break the user's step
                pass
        for watch in self.watchers:
            try:
                watch(optimizer, site)
            except Exception:
                pass
        if (
            self.check_nonfinite
            and not self.in_scaler_step
            and len(self.events.nonfinite_steps) < _MAX_NONFINITE_STEPS
        ):
            try:
                if _holds_nonfinite(optimizer):
                    self.events.nonfinite_steps.append(
                        NonFiniteStep(
                            type(optimizer).__name__, self.backward_count(), site[0], site[1]
                        )
                    )
            except Exception:
                pass
        if self.pause_point():
            return
        self.writes.step_params = {id(p) for g in optimizer.param_groups for p in g["params"]}

    @outside_modes
    def _names(self, optimizer: torch.optim.Optimizer, every: bool = False) -> tuple[str, ...]:
        """Names of the parameters that have a gradient at this step (``every``: of all the
        optimizer holds), in the optimizer's order (the same at every step of a loop, so its
        steps are logged as one run)."""
        params = [
            p for g in optimizer.param_groups for p in g["params"] if every or p.grad is not None
        ]
        key = (every, *(id(p) for p in params))
        names = self._name_cache.get(key)
        if names is None:
            if len(self._name_cache) > 64:
                self._name_cache.clear()
            found = (self.name(p) for p in params)
            names = self._name_cache[key] = tuple(n for n in found if n is not None)
        return names

    def optimizer_name(self, optimizer: torch.optim.Optimizer) -> str | None:
        """The user's name for ``optimizer`` (``opt``, ``trainer.opt``, ``optimizers[0]``):
        looked up once per optimizer (a frame search), for every event that names it."""
        try:
            return self._opt_names[optimizer]
        except KeyError:
            pass
        except TypeError:  # not weak-referenceable
            return None
        try:
            name = object_name(user_frame(3), optimizer)
        except Exception:  # never let naming break the user's step
            name = None
        self._opt_names[optimizer] = name
        return name

    def _post(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if _is_compiling() or _get_ident() != self.thread:
            return
        if self.guard.off:
            self.writes.step_params = None
            self.pause_point()
            return
        try:
            names = self._names(optimizer)
            file, line = self.sites.where()
            ordinal, built = 0, cast(tuple[str | None, int | None], (None, None))
            if self.resets is not None:
                ordinal, built = self.resets.ordinal(optimizer), self.resets.built_at(optimizer)
            self.events.steps.append(
                OptimizerStep(
                    index=len(self.events.steps),
                    optimizer=type(optimizer).__name__,
                    after_call=self.backward_count(),
                    params=names,
                    file=file,
                    line=line,
                    optimizer_id=ordinal,
                    built_file=built[0],
                    built_line=built[1],
                    name=self.optimizer_name(optimizer),
                    held=sum(len(g["params"]) for g in optimizer.param_groups),
                    holds=self._names(optimizer, every=True),
                )
            )
        finally:
            self.writes.step_params = None
            self.pause_point()
        if self.on_step_done is not None:  # outside the finally: pdb's q ends the run
            self.on_step_done()


@outside_modes
def _holds_nonfinite(optimizer: torch.optim.Optimizer) -> bool:
    """Whether a gradient of the optimizer's parameters holds NaN or Inf (one fused max-norm,
    one host sync)."""
    grads = [
        p.grad
        for g in optimizer.param_groups
        for p in g["params"]
        if p.grad is not None
        and p.grad.layout == torch.strided
        and p.grad.is_floating_point()
        and p.grad.numel()
    ]
    if not grads:
        return False
    norms = [n.to(torch.float64) for n in torch._foreach_norm(grads, float("inf"))]
    return not bool(torch.isfinite(torch.stack(norms)).all())
