"""Which line of the user's code is running: the innermost frame outside torch and graphscope."""

from __future__ import annotations

import os
import sys
from types import CodeType
from typing import Any

from graphscope._tensors import _TORCH_DIR, BORROWED, is_internal

__all__ = ["Sites"]

_USER, _DISPATCH, _LIBRARY = 0, 1, 2
#: torch files that only route a call to its implementation (Tensor methods, F.*, overrides)
_DISPATCH_FILES = frozenset(
    os.path.join(_TORCH_DIR, *p.split("/"))
    for p in ("overrides.py", "_tensor.py", "functional.py", "nn/functional.py", "_jit_internal.py")
)


def _frame_kind(filename: str) -> int:
    if not is_internal(filename):
        return _USER
    if filename.startswith(_TORCH_DIR) and filename not in _DISPATCH_FILES:
        return _LIBRARY
    return _DISPATCH


class Sites:
    """Finds the user's source line of the call in progress (frames classified once per code
    object). ``enabled=False`` finds nothing (file and line None), for a cheaper recorder."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._kinds: dict[CodeType, int] = {}  # code object -> _USER / _DISPATCH / _LIBRARY
        #: the bytecode offset of the user's frame at the last :meth:`site` (where in its
        #: statement the call stood: a statement's offsets only grow while it runs)
        self.lasti = -1

    def clear(self) -> None:
        self._kinds.clear()

    def where(self) -> tuple[str | None, int | None]:
        """File and line of the innermost frame outside torch and graphscope."""
        file, line, _ = self.site()
        return file, line

    def site(self) -> tuple[str | None, int | None, bool]:
        """:meth:`where`, and whether torch library code (``nn.init``, a module's forward,
        an optimizer) stands between that line and the op, beyond torch's dispatch layers."""
        if not self.enabled:
            return None, None, False
        cache = self._kinds
        library = False
        f: Any = sys._getframe(1)  # our own frames are skipped as dispatch frames
        while f is not None:
            code = f.f_code
            kind = cache.get(code)
            if kind is None:
                kind = cache[code] = (
                    _DISPATCH if code in BORROWED else _frame_kind(code.co_filename)
                )
            if kind == _USER:
                self.lasti = f.f_lasti
                return code.co_filename, f.f_lineno, library
            if kind == _LIBRARY:
                library = True
            f = f.f_back
        return None, None, library
