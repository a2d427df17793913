"""The :class:`~torch.overrides.TorchFunctionMode` that sees every top-level torch call.

Nested calls inside a call are not seen (a ``linear`` is one call). The fast path reads the
sequence counter before and after the call and nothing else. Only calls that may write (their
name ends with ``_``, an in-place dunder such as ``__setitem__``/``__iadd__``, ``out=``,
``inplace=True``, or ``batch_norm``/``instance_norm`` which update running statistics) go
through :class:`~graphscope.recorder.writes.Writes`. The sequence counter is per thread: only
the thread that installed the mode is recorded; other threads run untouched. While
``torch.compile`` traces, the mode passes calls through.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import torch
from torch.overrides import TorchFunctionMode

from graphscope.recorder.callsite import call_from, caller

if TYPE_CHECKING:
    from graphscope.recorder import Recorder

__all__ = ["RecordingMode", "classify", "remove_mode", "on_stack"]

_get_seq = torch._C._autograd._get_sequence_nr
_get_ident = threading.get_ident
_is_compiling = getattr(getattr(torch, "compiler", None), "is_compiling", lambda: False)

_INPLACE_DUNDERS = frozenset(
    f"__i{op}__"
    for op in (
        "add",
        "sub",
        "mul",
        "matmul",
        "truediv",
        "floordiv",
        "mod",
        "pow",
        "and",
        "or",
        "xor",
        "lshift",
        "rshift",
    )
) | {"__setitem__"}
_WRITER_NAMES = frozenset({"batch_norm", "instance_norm"})
#: calls that cut the graph or hand out an untracked alias (graphscope.recorder.aliases)
_ALIAS_NAMES = frozenset({"detach", "numpy", "untyped_storage", "argmax", "argmin", "argsort"})

# kinds of torch callables
PLAIN = 0  # cannot write its tensor arguments (unless out=/inplace=True)
WRITER = 1  # may write: diff the versions of its tensor arguments
GRAD = 2  # the ``Tensor.grad`` getter
_PASS = -1  # not recorded: another thread, a pending pause, an error of ours


def classify(func: Any) -> tuple[int, str]:
    """``(kind, api name)`` of a callable the mode sees."""
    name = getattr(func, "__name__", None)
    if name in ("__get__", "__set__"):  # a property: Tensor.grad, Tensor.T, ...
        prop = getattr(getattr(func, "__self__", None), "__name__", None) or name
        if prop == "data" and name == "__set__":
            return WRITER, "data ="
        return (GRAD if prop == "grad" and name == "__get__" else PLAIN), prop
    if not isinstance(name, str):
        return PLAIN, str(func)
    if name in _INPLACE_DUNDERS or name in _WRITER_NAMES or name in _ALIAS_NAMES:
        return WRITER, name
    if name.endswith("_") and not name.startswith("__"):
        return WRITER, name
    return PLAIN, name


class RecordingMode(TorchFunctionMode):
    """The mode; all state lives on the recorder."""

    def __init__(self, rec: Recorder) -> None:
        super().__init__()
        self.rec = rec

    def __torch_function__(
        self,
        func: Any,
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        if kwargs is None:
            kwargs = {}
        rec = self.rec
        if _is_compiling():  # dynamo or AOT tracing (dynamo reads this without a guard)
            return func(*args, **kwargs)
        frame = None
        try:  # our part: which kind of call this is (the user's call runs outside the try)
            frame = caller(func)  # torch's warnings are the caller's, not ours (callsite)
            if _get_ident() != rec.thread or rec.pause_pending:
                kind = _PASS
            else:
                known = rec.kinds.get(func)
                kind = rec.classify(func) if known is None else known
                if kwargs and (kwargs.get("out") is not None or kwargs.get("inplace") is True):
                    kind = WRITER
                api = rec.apis[func]
        except Exception as err:
            rec.guard.fail("a torch call", err)
            kind = _PASS
        if frame is None:
            return func(*args, **kwargs)
        if kind == _PASS:
            return call_from(frame, func, args, kwargs)
        if kind == PLAIN:
            lo = _get_seq()
            out = call_from(frame, func, args, kwargs)
            if _get_seq() != lo:
                try:
                    rec.op_made(api, lo, _get_seq(), args, kwargs)
                except Exception as err:  # never let our bookkeeping break the user's call
                    rec.guard.fail("recording a torch call", err)
            return out
        if kind == GRAD:
            return rec.writes.grad_get(func, args, kwargs, frame)
        return rec.writes.call(func, api, args, kwargs, rec.spans.current, frame)


def on_stack(mode: TorchFunctionMode) -> bool:
    """Is ``mode`` on this thread's torch-function mode stack right now?"""
    n = torch._C._len_torch_function_stack()
    return any(torch._C._get_function_stack_at(i) is mode for i in range(n))


def remove_mode(mode: TorchFunctionMode) -> None:
    """Take ``mode`` off this thread's torch-function mode stack, keeping the modes above it."""
    above = []
    try:
        while torch._C._len_torch_function_stack() > 0:
            top = torch._C._pop_torch_function_stack()
            if top is mode:
                break
            above.append(top)
    finally:
        while above:
            torch._C._push_on_torch_function_stack(above.pop())
