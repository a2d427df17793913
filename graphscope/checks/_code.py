"""Code in hints: a hint shows the fix as code between backticks, in the user's own names,
and only code that parses (``tests/test_scenario_fixes.py`` pastes it into the scenarios and
runs them). :func:`shown` is the one place that decides whether a snippet may be shown."""

from __future__ import annotations

import ast


def is_python(text: str) -> bool:
    """Whether ``text`` parses as Python statements (``net.fc.requires_grad_(False)``; not
    ``<model>.fc`` nor ``model.2.weight``)."""
    try:
        ast.parse(text)
    except SyntaxError:
        return False
    return True


def shown(text: str) -> str | None:
    """```text``` between backticks when it is Python, else None (say it in words instead)."""
    return f"`{text}`" if is_python(text) else None


def code_or_words(text: str) -> str:
    """```opt.zero_grad()``` (code between backticks) for a call the user's names spell; the
    words unchanged for prose (``the Adam optimizer's step()``) or a bare ``backward()``."""
    if "." not in text or text.startswith(("the ", "The ")) or not is_python(text):
        return text
    return f"`{text}`"


def frozen(names: list[str], modules: list[str]) -> str | None:
    """The code that freezes tensors the backward never reached: the owning module's
    ``net.aux_head.requires_grad_(False)`` when one module owns them all, else one call per
    tensor (up to three); None when that is not Python in these names."""
    if len(modules) == 1 and all(n.startswith(modules[0] + ".") for n in names):
        return shown(f"{modules[0]}.requires_grad_(False)")
    if 1 <= len(names) <= 3:
        return shown("; ".join(f"{n}.requires_grad_(False)" for n in names))
    return None
