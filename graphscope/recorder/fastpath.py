"""Keep torch's fused fast paths: the recording mode steps aside inside modules that take one.

``nn.MultiheadAttention``, ``nn.TransformerEncoderLayer`` and ``nn.TransformerEncoder`` run a
fused kernel in eval mode when no gradient is needed, unless a tensor argument "has torch
function", which an active TorchFunctionMode makes true. Our mode alone would push them onto
the slow path: other kernels, outputs that differ in the last bits. Inside such a call no graph
is built (that is the fast path's own condition), so there is nothing to record: the mode
leaves the torch-function stack at the module's forward pre-hook and comes back at its forward
hook. When another mode is active too, torch takes the slow path anyway and we stay.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import torch
from torch.nn.modules.module import (
    register_module_forward_hook,
    register_module_forward_pre_hook,
)
from torch.overrides import TorchFunctionMode

from graphscope.recorder.guard import Guard

__all__ = ["FastPaths", "FAST_PATH_MODULES"]

#: the modules whose forward checks ``has_torch_function`` to choose its kernel (torch 2.13)
FAST_PATH_MODULES = (
    torch.nn.MultiheadAttention,
    torch.nn.TransformerEncoderLayer,
    torch.nn.TransformerEncoder,
)
_get_ident = threading.get_ident
_is_compiling = getattr(getattr(torch, "compiler", None), "is_compiling", lambda: False)
_stack_len = torch._C._len_torch_function_stack


class FastPaths:
    """Global module hooks that take ``mode()`` off the stack around fast-path module calls."""

    def __init__(
        self, mode: Callable[[], TorchFunctionMode | None], guard: Guard | None = None
    ) -> None:
        self.mode = mode
        self.guard = guard or Guard()
        self.thread = -1
        self._handles: list[Any] = []
        self._aside: tuple[torch.nn.Module, TorchFunctionMode] | None = None

    def install(self) -> None:
        if self._handles:
            return
        self.thread = _get_ident()
        guard = self.guard.hook
        self._handles.append(
            register_module_forward_pre_hook(guard("a fast-path module", self._pre))
        )
        self._handles.append(
            register_module_forward_hook(guard("a fast-path module", self._post), always_call=True)
        )

    def uninstall(self) -> None:
        while self._handles:
            self._handles.pop().remove()
        self._back()

    @property
    def hooked(self) -> bool:
        return bool(self._handles)

    def _pre(self, module: torch.nn.Module, inputs: Any) -> None:
        if (
            _is_compiling()
            or self._aside is not None
            or not isinstance(module, FAST_PATH_MODULES)
            or module.training
            or _get_ident() != self.thread
        ):
            return
        mode = self.mode()
        if mode is None or _stack_len() != 1 or torch._C._get_function_stack_at(0) is not mode:
            return
        if torch.is_grad_enabled() and _needs_grad(module, inputs):
            return
        torch._C._pop_torch_function_stack()
        self._aside = (module, mode)

    def _post(self, module: torch.nn.Module, inputs: Any, output: Any) -> None:
        if self._aside is not None and self._aside[0] is module:
            self._back()

    def _back(self) -> None:
        """Put the mode back where it was (the bottom of an otherwise empty stack)."""
        aside, self._aside = self._aside, None
        if aside is not None and aside[1] is self.mode():
            above = []
            while _stack_len() > 0:
                above.append(torch._C._pop_torch_function_stack())
            torch._C._push_on_torch_function_stack(aside[1])
            while above:
                torch._C._push_on_torch_function_stack(above.pop())


def _needs_grad(module: torch.nn.Module, inputs: Any) -> bool:
    """Would a graph be built (grad enabled is checked by the caller)?"""
    if any(isinstance(t, torch.Tensor) and t.requires_grad for t in inputs):
        return True
    return any(p.requires_grad for p in module.parameters())
