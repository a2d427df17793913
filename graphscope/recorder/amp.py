"""GradScaler steps: a :class:`~graphscope.model.ScalerStep` for each ``scaler.step(optimizer)``.

While installed, ``torch.amp.GradScaler.step`` (which ``torch.cuda.amp.GradScaler`` inherits) is
wrapped. Whether the scaler skipped the optimizer's step is read without a device sync: the
scaler calls ``optimizer.step()`` only when the gradients were finite, and the optimizer step
hooks (:mod:`~graphscope.recorder.optim`) append to ``events.steps`` when it does (and skip their
own NaN check inside it: the scaler made it). An optimizer
that takes the scaler's Inf flag itself (``_step_supports_amp_scaling``: the fused ones) always
steps; there the scaler's own flag is read. A skipped step also reads the scale it used (one
``.item()``, only then), so that the check can tell a warm-up (the scale falls a few times, then
the steps run) from a scale that never settles.

Steps are recorded at the ``scaler.step()`` line; a scaler built with ``enabled=False`` records
nothing (it scales nothing and never skips).

Measured on torch 2.13 (CPU, ``torch.autocast("cpu", dtype=torch.float16)``): the first step of
a small MLP with the default ``init_scale=65536`` is skipped (its float16 weight gradients
overflow), the scale halves to 32768 and every later step runs.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

import torch

from graphscope._tensors import outside_modes
from graphscope.model import Events, ScalerStep
from graphscope.recorder.optim import StepHooks
from graphscope.recorder.sites import Sites

__all__ = ["ScalerSteps"]

_get_ident = threading.get_ident


class ScalerSteps:
    """Wraps ``GradScaler.step`` (see the module docstring). ``backward_count()`` is the number
    of backward calls so far."""

    def __init__(
        self, events: Events, sites: Sites, backward_count: Callable[[], int], hooks: StepHooks
    ) -> None:
        self.events = events
        self.hooks = hooks
        self.sites = sites
        self.backward_count = backward_count
        self.thread = -1
        self._restore: Callable[[], None] | None = None

    def install(self) -> None:
        cls = getattr(getattr(torch, "amp", None), "GradScaler", None)
        if cls is None or "step" not in cls.__dict__ or self._restore is not None:
            return
        self.thread = _get_ident()
        orig = cls.__dict__["step"]
        cls.step = self._wrap(orig)
        self._restore = lambda: setattr(cls, "step", orig)

    def uninstall(self) -> None:
        restore, self._restore = self._restore, None
        if restore is not None:
            restore()

    def _wrap(self, orig: Any) -> Any:
        steps = self

        @functools.wraps(orig)
        def step(self: Any, optimizer: Any, *args: Any, **kwargs: Any) -> Any:
            if _get_ident() != steps.thread or not getattr(self, "_enabled", False):
                return orig(self, optimizer, *args, **kwargs)
            before = len(steps.events.steps)
            inside, steps.hooks.in_scaler_step = steps.hooks.in_scaler_step, True
            try:
                out = orig(self, optimizer, *args, **kwargs)
            finally:
                steps.hooks.in_scaler_step = inside
            try:
                steps._record(self, optimizer, before)
            except Exception:  # never let our bookkeeping break the user's step
                pass
            return out

        return step

    @outside_modes
    def _record(self, scaler: Any, optimizer: Any, before: int) -> None:
        if getattr(optimizer, "_step_supports_amp_scaling", False):
            state = scaler._per_optimizer_states.get(id(optimizer), {})
            found = state.get("found_inf_per_device", {})
            skipped = any(bool(v.item()) for v in found.values())
        else:
            skipped = len(self.events.steps) == before
        scale = None
        if skipped and isinstance(getattr(scaler, "_scale", None), torch.Tensor):
            scale = float(scaler._scale.item())
        file, line = self.sites.where()
        self.events.scaler_steps.append(
            ScalerStep(
                index=len(self.events.scaler_steps),
                after_call=self.backward_count(),
                skipped=skipped,
                optimizer=type(optimizer).__name__,
                file=file,
                line=line,
                scale=scale,
                device=_device(scaler),
                optimizer_name=self.hooks.optimizer_name(optimizer),
            )
        )


def _device(scaler: Any) -> str | None:
    device = getattr(scaler, "_device", None)
    return device if isinstance(device, str) else None
