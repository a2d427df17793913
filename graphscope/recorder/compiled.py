"""Compiled code runs with graphscope out of the way: one opaque step on the picture.

``torch.compile`` (dynamo) traces the Python it runs, and guards what it compiled on the state
it saw. With graphscope's TorchFunctionMode on the stack and its global module hooks installed,
dynamo would trace into them (and fail, or break the graph into pieces that other kernels
compute, last bits differing), guard on them (a recompile whenever recording pauses) and warn
about global hooks. So every call into compiled code steps graphscope aside: the mode leaves
the torch-function stack and the module hooks are removed for the call, then everything comes
back as it was. The backward nodes the call made (``CompiledFunctionBackward``) are recorded as
one call, ``compiled: <name>``, with the user's line: the picture shows the compiled module as
one opaque node named after it, its parameters as leaves with their gradients.

Entry points covered while a recorder is installed:

* ``torch.compile(module)``: ``OptimizedModule.__call__`` (the class, so modules compiled before
  ``watch`` started are covered too);
* ``torch.compile(fn)`` and ``module.compile()`` (which compiles ``module._call_impl``) while
  recording: ``torch.compile`` itself is wrapped.

The returned wrappers outlive ``watch`` as plain pass-throughs holding nothing of the session.
A function (or ``module.compile()``) compiled before ``watch`` started is not wrapped: for it
the recorder's hooks and mode do nothing while dynamo traces them
(``torch.compiler.is_compiling()``), so it still runs, compiled again once for the hooks it now
sees, and its nodes are drawn without the ``compiled:`` name.
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

from graphscope._tensors import frame_variable, user_frame

if TYPE_CHECKING:
    from graphscope.recorder import Recorder

__all__ = ["CompiledCalls", "is_compiling"]

_get_seq = torch._C._autograd._get_sequence_nr
is_compiling: Callable[[], bool] = getattr(
    getattr(torch, "compiler", None), "is_compiling", lambda: False
)

#: the recorder currently installed, and its thread (the wrappers look it up at call time)
_ACTIVE: list[Recorder] = []
_MARK = "_graphscope_compiled"


class CompiledCalls:
    """The patches of one recorder (see the module docstring)."""

    def __init__(self, rec: Recorder) -> None:
        self.rec = rec
        self._restore: list[Callable[[], None]] = []
        self._depth = 0
        self._back: Callable[[], None] | None = None

    def install(self) -> None:
        if self._restore:
            return
        _ACTIVE.append(self.rec)
        self._restore.append(lambda: _ACTIVE.remove(self.rec) if self.rec in _ACTIVE else None)
        original = torch.compile
        if not getattr(original, _MARK, False):
            self._patch(torch, "compile", _wrap_compile(original))
        if "torch._dynamo" in sys.modules:
            _patch_optimized_module(self)

    def uninstall(self) -> None:
        while self._restore:
            self._restore.pop()()

    def _patch(self, owner: Any, attr: str, new: Any) -> None:
        old = owner.__dict__[attr] if attr in owner.__dict__ else getattr(owner, attr)
        setattr(owner, attr, new)
        self._restore.append(lambda: setattr(owner, attr, old))

    # stepping aside -------------------------------------------------------------------------

    def run(self, compiled: Callable[..., Any], args: Any, kwargs: Any, owner: Any) -> Any:
        """Call compiled code with the recorder out of the way; record it as one call."""
        if self._depth:  # compiled code calling compiled code
            return compiled(*args, **kwargs)
        rec = self.rec
        try:  # ours, before and after the call; the user's call runs outside the try blocks
            lo = _get_seq()
            module = rec.spans.current()
            name = _name(owner, rec)
            back = rec.step_aside()
        except Exception as err:
            rec.guard.fail("stepping aside for compiled code", err)
            return compiled(*args, **kwargs)
        self._depth += 1
        try:
            return compiled(*args, **kwargs)
        finally:
            self._depth -= 1
            try:
                back()
                hi = _get_seq()
                if hi != lo and not rec.guard.off:
                    rec.ops.add(f"compiled: {name}", module, lo, hi)
            except Exception as err:  # never let our bookkeeping break the user's call
                rec.guard.fail("recording a compiled call", err)


def _active() -> CompiledCalls | None:
    """The installed recorder's patches, when called from its thread (else None)."""
    if not _ACTIVE:
        return None
    rec = _ACTIVE[-1]
    if rec.thread != threading.get_ident() or is_compiling():
        return None
    return rec.compiled


def _wrap_compile(original: Callable[..., Any]) -> Callable[..., Any]:
    """``torch.compile``, whose compiled functions step graphscope aside when called."""

    @functools.wraps(original)
    def compile(model: Any = None, *args: Any, **kwargs: Any) -> Any:
        out = original(model, *args, **kwargs)
        active = _active()
        if active is not None:
            patch_after_import(active)  # the first compile imports dynamo: cover its class
        if model is None or isinstance(out, torch.nn.Module) or not callable(out):
            return out  # a decorator (it calls this again), or an OptimizedModule (its class)
        return _wrap_compiled(out, getattr(model, "__self__", model))

    setattr(compile, _MARK, True)
    return compile


def _wrap_compiled(compiled: Callable[..., Any], owner: Any) -> Callable[..., Any]:
    """A compiled function (or a module's compiled ``_call_impl``) that steps graphscope aside."""

    @functools.wraps(compiled)
    def run(*args: Any, **kwargs: Any) -> Any:
        calls = _active()
        if calls is None:
            return compiled(*args, **kwargs)
        return calls.run(compiled, args, kwargs, owner)

    setattr(run, _MARK, True)
    return run


def _patch_optimized_module(calls: CompiledCalls) -> None:
    """``torch.compile(module)``: its ``__call__`` checks for global hooks before compiled code
    runs, so the step aside starts there."""
    from torch._dynamo.eval_frame import OptimizedModule

    original = OptimizedModule.__dict__["__call__"]
    if getattr(original, _MARK, False):
        return

    @functools.wraps(original)
    def __call__(self: Any, *args: Any, **kwargs: Any) -> Any:
        active = _active()
        if active is None:
            return original(self, *args, **kwargs)
        return active.run(functools.partial(original, self), args, kwargs, self)

    setattr(__call__, _MARK, True)
    calls._patch(OptimizedModule, "__call__", __call__)


def patch_after_import(calls: CompiledCalls) -> None:
    """Dynamo got imported while recording (the first ``torch.compile``): cover its class."""
    if "torch._dynamo" in sys.modules:
        _patch_optimized_module(calls)


def _name(owner: Any, rec: Recorder) -> str:
    """What the user calls the compiled thing: its module path inside the running model, else
    the variable the caller holds it in, else its class (or function) name."""
    module = getattr(owner, "_orig_mod", owner)
    roots = rec.root_modules() if rec.spans.running else []
    for root in roots:
        for path, m in root.named_modules():
            if path and (m is owner or m is module):
                return path
    frame = user_frame(3)
    for candidate in (owner, module):
        name = frame_variable(frame, candidate)  # type: ignore[arg-type]
        if name:
            return name
    if isinstance(module, torch.nn.Module):
        return type(module).__name__
    return str(getattr(module, "__name__", None) or type(module).__name__)
