"""Module modes: an :class:`~graphscope.model.EvalTraining` for a module switched to ``eval()``
after it trained and then trained again without ``train()``.

While installed, ``nn.Module.train`` (which ``eval()`` calls) is wrapped; only the user's own
call is looked at, not the recursive calls it makes on the children. An ``eval()`` call is
*watched* when

- the module was in train mode and at least one optimizer step ran since the last ``train()``
  call on any module (a validation pass in the middle of training; not BatchNorm frozen before
  training starts, nor a ``model.train()`` followed at once by freezing its BatchNorm layers);
- it was made on a model or block, not on a single normalization or dropout layer (switching
  those one by one is a deliberate choice, frozen-BatchNorm fine-tuning);
- the module holds layers whose behaviour ``eval()`` changes (dropout, batch or instance
  normalization with running statistics, attention with dropout): otherwise nothing differs.

At each optimizer step (:meth:`before_step`, called by the step hooks) a watched module that is
still in eval mode and whose parameters have gradients and belong to the stepping optimizer has
been trained in eval mode: the first such step writes the event, later ones count into it. A
``train()`` call (``module.training`` True again) ends the watch. Cost: nothing per op; a few
attribute reads per ``train()``/``eval()`` call, and per step only while a module is watched.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
import weakref
from collections.abc import Callable
from typing import Any

import torch

from graphscope._tensors import user_frame, where
from graphscope.model import EvalTraining, Events
from graphscope.names import module_name

__all__ = ["ModeSwitches"]

_get_ident = threading.get_ident
_nn = torch.nn.modules
#: layers that compute differently in eval mode
_DEPENDENT: tuple[type, ...] = (
    _nn.dropout._DropoutNd,
    _nn.batchnorm._BatchNorm,
    _nn.instancenorm._InstanceNorm,
    torch.nn.MultiheadAttention,
)
#: layers a user switches to eval one by one on purpose (frozen BatchNorm, no dropout)
_SINGLE: tuple[type, ...] = (
    _nn.dropout._DropoutNd,
    _nn.batchnorm._BatchNorm,
    _nn.instancenorm._InstanceNorm,
)


@dataclasses.dataclass
class _Watch:
    ref: Any  # weakref to the module
    name: str
    layers: tuple[str, ...]
    file: str | None
    line: int | None
    after_call: int
    event: int | None = None  # position of its EvalTraining in events.eval_training
    steps: int = 0


class ModeSwitches:
    """See the module docstring. ``backward_count()`` and ``step_count()`` are the backward
    calls and optimizer steps so far."""

    def __init__(
        self, events: Events, backward_count: Callable[[], int], step_count: Callable[[], int]
    ) -> None:
        self.events = events
        self.backward_count = backward_count
        self.step_count = step_count
        self.thread = -1
        self._depth = 0
        self._trained_at = 0  # optimizer steps made before the last train() call
        self._watched: dict[int, _Watch] = {}
        self._restore: Callable[[], None] | None = None
        #: the user's name for an optimizer (the step hooks' one lookup per optimizer)
        self.namer: Callable[[Any], str | None] = lambda optimizer: None

    def install(self) -> None:
        if self._restore is not None:
            return
        self.thread = _get_ident()
        cls = torch.nn.Module
        orig = cls.__dict__["train"]
        cls.train = self._wrap(orig)  # type: ignore[method-assign]
        self._restore = lambda: setattr(cls, "train", orig)

    def uninstall(self) -> None:
        restore, self._restore = self._restore, None
        if restore is not None:
            restore()
        self._watched.clear()
        self._trained_at = 0

    def _wrap(self, orig: Any) -> Any:
        switches = self

        @functools.wraps(orig)
        def train(self: Any, *args: Any, **kwargs: Any) -> Any:
            if switches._depth or _get_ident() != switches.thread:
                return orig(self, *args, **kwargs)
            was = getattr(self, "training", None)
            switches._depth += 1
            try:
                out = orig(self, *args, **kwargs)
            finally:
                switches._depth -= 1
            try:
                mode = args[0] if args else kwargs.get("mode", True)
                switches._switched(self, bool(mode), was is True)
            except Exception:  # never let our bookkeeping break the user's call
                pass
            return out

        return train

    def _switched(self, module: torch.nn.Module, mode: bool, was_training: bool) -> None:
        steps = self.step_count()
        if mode:
            self._trained_at = steps
            return
        if not was_training or steps <= self._trained_at or isinstance(module, _SINGLE):
            return
        if id(module) in self._watched:
            return
        layers = _dependent_layers(module)
        if not layers:
            return
        frame = user_frame(3)
        file, line = where(frame)
        name = module_name(frame, module, spell=True) or type(module).__name__
        self._watched[id(module)] = _Watch(
            weakref.ref(module), name, layers, file, line, self.backward_count()
        )

    def before_step(self, optimizer: Any, site: tuple[str | None, int | None]) -> None:
        """At ``optimizer.step()``: does it train a watched module that is still in eval mode?"""
        if not self._watched:
            return
        params: set[int] | None = None
        for key, w in list(self._watched.items()):
            module = w.ref()
            if module is None or module.training:
                del self._watched[key]
                continue
            if w.event is not None:
                w.steps += 1
                ev = self.events.eval_training
                ev[w.event] = dataclasses.replace(ev[w.event], steps=w.steps)
                continue
            if params is None:
                params = {id(p) for g in optimizer.param_groups for p in g["params"]}
            if not any(p.grad is not None and id(p) in params for p in module.parameters()):
                continue
            w.steps, w.event = 1, len(self.events.eval_training)
            self.events.eval_training.append(
                EvalTraining(
                    name=w.name,
                    layers=w.layers,
                    file=w.file,
                    line=w.line,
                    after_call=w.after_call,
                    step_file=site[0],
                    step_line=site[1],
                    step_call=self.backward_count(),
                    optimizer=type(optimizer).__name__,
                    optimizer_name=self.namer(optimizer),
                )
            )


def _dependent_layers(module: torch.nn.Module) -> tuple[str, ...]:
    """Class names of the layers under ``module`` that behave differently in eval mode."""
    out: dict[str, None] = {}
    for m in module.modules():
        if isinstance(m, _DEPENDENT):
            if isinstance(m, torch.nn.MultiheadAttention) and not m.dropout:
                continue
            if isinstance(m, _nn.instancenorm._InstanceNorm) and not m.track_running_stats:
                continue
            if isinstance(m, _nn.dropout._DropoutNd) and not m.p:
                continue
            out[type(m).__name__] = None
    return tuple(out)
