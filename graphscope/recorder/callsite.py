"""Run an intercepted torch call so that its warnings come from the frame that made the call.

A warning torch raises from C++ (or a torch function's ``warnings.warn(..., stacklevel=2)``) is
attributed to the innermost Python frame: under a TorchFunctionMode that is the mode's own
``__torch_function__``. The user's ``warnings.filterwarnings(..., module="__main__")`` then no
longer matches, "once per location" counts graphscope's line instead of the user's, and the
message points into graphscope. :func:`call_from` makes the call from a one-line function whose
code carries the caller's file and line and which runs in the caller's globals (its
``__name__`` for the filters, its ``__warningregistry__``): what the warnings machinery sees is
exactly what it sees without graphscope. No filter is touched (touching one resets every
once-per-location registry). The function's name is ``CALL_SITE``: a traceback through it
shows the user's line twice, so the script runner drops the copy.

>>> import warnings, torch
>>> def f(): return call_from(caller(torch.ones), torch.ones, (1,), {})
>>> f().tolist()
[1.0]
"""

from __future__ import annotations

import sys
import types
from typing import Any

import torch

from graphscope._tensors import BORROWED, CALL_SITE

__all__ = ["call_from", "caller"]

_HANDLE_CODE = torch.overrides.handle_torch_function.__code__
_CODES: dict[tuple[types.CodeType, int], types.CodeType] = {}
_MAX_CODES = 20_000  # distinct (function, line) call sites kept; then the cache starts afresh
_FunctionType = types.FunctionType
_getframe = sys._getframe


def caller(func: Any, depth: int = 2) -> types.FrameType:
    """The frame whose call reached the mode, as torch itself would call ``func`` from it:
    ``depth`` frames up from the caller of this function, past ``handle_torch_function`` (and past
    the Python torch function that dispatched there, when ``func`` is that function itself, as
    ``F.softmax``: its own body runs again from our call)."""
    f = _getframe(depth)
    if f.f_code is _HANDLE_CODE and f.f_back is not None:
        f = f.f_back
        if f.f_code is getattr(func, "__code__", None) and f.f_back is not None:
            f = f.f_back
    return f


def call_from(frame: types.FrameType, func: Any, args: tuple[Any, ...], kwargs: Any) -> Any:
    """``func(*args, **kwargs)``, called from a frame that looks like ``frame`` to the warnings
    machinery (same file, line, function name and globals)."""
    try:  # ours: the trampoline (the user's call runs outside the try, its errors unchained)
        code = frame.f_code
        line = frame.f_lineno
        tramp = _CODES.get((code, line))
        if tramp is None:
            tramp = _trampoline(code, line or 1)
        call = _FunctionType(tramp, frame.f_globals)
    except Exception:  # only the warnings' attribution is lost: the call itself runs as is
        return func(*args, **kwargs)
    return call(func, args, kwargs)


def _trampoline(code: types.CodeType, line: int) -> types.CodeType:
    """The code of ``lambda f, a, k: f(*a, **k)`` placed at ``code``'s file and ``line``."""
    if len(_CODES) >= _MAX_CODES:
        _CODES.clear()
        BORROWED.clear()
    src = "\n" * (max(line, 1) - 1) + "lambda f, a, k: f(*a, **k)"
    outer = compile(src, code.co_filename, "eval")
    inner = next(c for c in outer.co_consts if isinstance(c, types.CodeType))
    if sys.version_info >= (3, 11):
        inner = inner.replace(co_name=CALL_SITE, co_qualname=CALL_SITE)
    else:  # pragma: no cover
        inner = inner.replace(co_name=CALL_SITE)
    _CODES[(code, line)] = inner
    BORROWED.add(inner)
    return inner
