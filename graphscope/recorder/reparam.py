"""Modules whose parameters ``torch.func.functional_call`` replaced for a forward pass.

``functional_call(model, params, x)`` runs ``model``'s forward with other tensors in place of
its parameters (through ``torch.nn.utils.stateless._reparametrize_module``), so a backward
through that forward is not meant to reach ``model``'s own parameters. While installed, that
function is wrapped to remember the modules it reparametrized (weakly); when torch lacks it,
nothing is wrapped.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable
from typing import Any

import torch.nn.utils.stateless as stateless

__all__ = ["Reparametrized"]

_get_ident = threading.get_ident


class Reparametrized:
    """The wrapper and the modules it saw."""

    def __init__(self) -> None:
        self.thread = -1
        self._modules: weakref.WeakSet[Any] = weakref.WeakSet()
        self._restore: Callable[[], None] | None = None

    def install(self) -> None:
        orig = getattr(stateless, "_reparametrize_module", None)
        if orig is None or self._restore is not None:
            return
        self.thread = _get_ident()
        seen = self._modules
        thread = self.thread

        @functools.wraps(orig)
        def _reparametrize_module(module: Any, *args: Any, **kwargs: Any) -> Any:
            if _get_ident() == thread:
                try:
                    seen.update(module.modules())
                except Exception:  # never let our bookkeeping break the user's call
                    pass
            return orig(module, *args, **kwargs)

        stateless._reparametrize_module = _reparametrize_module
        self._restore = lambda: setattr(stateless, "_reparametrize_module", orig)

    def uninstall(self) -> None:
        if self._restore is not None:
            self._restore()
            self._restore = None

    def ids(self) -> set[int]:
        """``id()`` of every module (and submodule) that was reparametrized."""
        return {id(m) for m in self._modules}
