"""The out-of-place form of the user's own in-place write, for hints that say what to write.

``h.mul_(2)`` is ``h = h * 2``; ``h += 1`` is ``h = h + 1``; ``h.clamp_(min=0)`` is
``h = h.clamp(min=0)``. The arguments come from the user's source line (``linecache``, read
only); when the line does not show the call as written (``torch.relu_(h)``, a call split over
lines), the generic example ``h = h + 1`` instead of ``h.add_(1)``.

>>> out_of_place("h", "mul_", "h.mul_(2)")
('h.mul_(2)', 'h = h * 2')
>>> out_of_place("x", "__iadd__", "    x += y[0]  # bump")
('x += y[0]', 'x = x + y[0]')
>>> out_of_place("h", "clamp_", "h.clamp_(min=0)")
('h.clamp_(min=0)', 'h = h.clamp(min=0)')
"""

from __future__ import annotations

import linecache
import re

__all__ = ["out_of_place", "source_line"]

_OPERATORS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "true_divide": "/", "pow": "**"}
_DUNDERS = {
    "__iadd__": "+",
    "__isub__": "-",
    "__imul__": "*",
    "__itruediv__": "/",
    "__ifloordiv__": "//",
    "__imod__": "%",
    "__ipow__": "**",
    "__imatmul__": "@",
    "__iand__": "&",
    "__ior__": "|",
    "__ixor__": "^",
    "__ilshift__": "<<",
    "__irshift__": ">>",
}


def source_line(file: str | None, line: int | None) -> str:
    """The text of ``file``'s ``line`` ("" when unknown or unreadable)."""
    if not file or not line:
        return ""
    try:
        return linecache.getline(file, line)
    except Exception:  # an odd file name: no text
        return ""


def out_of_place(t: str, api: str, text: str) -> tuple[str, str]:
    """``(the write as the user wrote it, the out-of-place statement to write instead)`` for an
    in-place ``api`` on the tensor the user calls ``t``, with ``text`` the source line."""
    if api in _DUNDERS:
        op = _DUNDERS[api]
        m = re.search(rf"(?<![\w.]){re.escape(t)}\s*{re.escape(op)}=\s*(.+?)\s*(#.*)?$", text)
        arg = m.group(1) if m else "..."
        return f"{t} {op}= {arg}", f"{t} = {t} {op} {arg}"
    if api.endswith("_") and not api.startswith("_"):
        args = _call_args(t, api, text)
        if args is None:  # the line does not show the call: the generic example
            return f"{t}.add_(1)", f"{t} = {t} + 1"
        shown = args
        base = api[:-1]
        sign = _OPERATORS.get(base)
        if sign is not None and args is not None and _single(args):
            return f"{t}.{api}({shown})", f"{t} = {t} {sign} {args}"
        return f"{t}.{api}({shown})", f"{t} = {t}.{base}({shown})"
    return f"{t}.add_(1)", f"{t} = {t} + 1"


def _call_args(t: str, api: str, text: str) -> str | None:
    """The argument text of ``t.api(...)`` on the line, parentheses balanced, else None."""
    m = re.search(rf"(?<![\w.]){re.escape(t)}\.{re.escape(api)}\(", text)
    if m is None:
        return None
    depth, start = 1, m.end()
    for i in range(start, len(text)):
        c = text[i]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                return text[start:i].strip()
    return None


def _single(args: str) -> bool:
    """One positional argument (no keyword, no second argument at the top level)."""
    depth = 0
    for c in args:
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif depth == 0 and c in ",=":
            return False
    return bool(args)
