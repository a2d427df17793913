"""Where the user's code switched gradient recording off: :class:`~graphscope.model.GradOff`.

``torch.no_grad()`` enters by constructing ``torch.set_grad_enabled(False)``, so wrapping
``set_grad_enabled.__init__`` sees both (told apart by the calling frame), and wrapping
``inference_mode.__enter__`` sees ``torch.inference_mode()``; both as blocks and as decorators.
Only switches made by the user's code count: torch's own (``optimizer.step()``, ``nn.init``)
are skipped, as are other threads and code that ``torch.compile`` is tracing. ``.detach()``
calls come from :mod:`graphscope.recorder.aliases`. The latest switch per line is kept, so a
loop does not grow the list. The wrappers are removed on uninstall.
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable
from typing import Any

import torch
import torch.utils._contextlib as _contextlib
from torch.autograd import grad_mode

from graphscope._tensors import is_internal
from graphscope.model import Events, GradOff
from graphscope.recorder.guard import Guard

__all__ = ["GradOffs"]

_get_ident = threading.get_ident
_PASSED = frozenset({grad_mode.__file__, _contextlib.__file__})  # frames between user and switch
_NO_GRAD_ENTER = grad_mode.no_grad.__enter__.__code__


class GradOffs:
    """The grad-mode wrappers and the :class:`GradOff` events they write."""

    def __init__(
        self, events: Events, backward_count: Callable[[], int], guard: Guard | None = None
    ) -> None:
        self.events = events
        self.guard = guard or Guard()
        self.backward_count = backward_count
        self.thread = -1
        self._count = 0
        self._at: dict[tuple[str, str, int], int] = {}  # (api, file, line) -> position in list
        self._restore: list[Callable[[], None]] = []

    def install(self) -> None:
        self.thread = _get_ident()
        self._wrap(grad_mode.set_grad_enabled, "__init__", self._set_grad_enabled)
        self._wrap(grad_mode.inference_mode, "__enter__", self._inference_mode)

    def uninstall(self) -> None:
        while self._restore:
            self._restore.pop()()

    def record(self, api: str, file: str, line: int, name: str | None = None) -> None:
        """Keep ``api`` at ``file:line`` as the latest switch made there."""
        event = GradOff(self._count, api, file, line, self.backward_count(), name)
        self._count += 1
        key = (api, file, line)
        pos = self._at.get(key)
        if pos is None:
            self._at[key] = len(self.events.grad_off)
            self.events.grad_off.append(event)
        else:
            self.events.grad_off[pos] = event

    def _wrap(self, cls: type, attr: str, make: Callable[[Any], Any]) -> None:
        orig = cls.__dict__[attr]
        setattr(cls, attr, make(orig))
        self._restore.append(lambda: setattr(cls, attr, orig))

    def _set_grad_enabled(self, orig: Any) -> Any:
        offs = self

        @functools.wraps(orig)
        def __init__(self: Any, mode: bool) -> None:  # noqa: N807 (the wrapped method's name)
            orig(self, mode)
            if not mode and _get_ident() == offs.thread:
                try:
                    caller = sys._getframe(1).f_code
                    offs._switched("no_grad" if caller is _NO_GRAD_ENTER else "set_grad_enabled")
                except Exception as err:  # never let our bookkeeping break the user's switch
                    offs.guard.fail("recording a no_grad", err)

        return __init__

    def _inference_mode(self, orig: Any) -> Any:
        offs = self

        @functools.wraps(orig)
        def __enter__(self: Any) -> None:  # noqa: N807
            orig(self)
            if self.mode and _get_ident() == offs.thread:
                try:
                    offs._switched("inference_mode")
                except Exception as err:
                    offs.guard.fail("recording an inference_mode", err)

        return __enter__

    def _switched(self, api: str) -> None:
        """Record ``api`` at the user's line, unless torch's own code made the switch."""
        try:
            if torch.compiler.is_compiling():
                return
            f: Any = sys._getframe(2)
            while f is not None and f.f_code.co_filename in _PASSED:
                f = f.f_back
            if f is None or is_internal(f.f_code.co_filename):
                return
            self.record(api, f.f_code.co_filename, f.f_lineno)
        except Exception:  # never let our bookkeeping break the user's switch
            pass
