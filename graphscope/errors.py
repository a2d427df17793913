"""graphscope's exceptions. Each message says what was wrong, what was got, and how to fix it.

The CLI turns any :class:`GraphscopeError` into a one-line message and a clean exit status;
nothing else of ours should reach a user as a traceback.
"""

from __future__ import annotations


class GraphscopeError(Exception):
    """Base class of every error graphscope raises on purpose."""

    exit_code = 1


class UsageError(GraphscopeError):
    """Bad input from the user: a missing file, an unknown option value, a wrong argument type."""

    exit_code = 2


class RenderError(GraphscopeError):
    """The layout engine is missing or failed, or an output file cannot be written."""


class LayoutTimeout(RenderError):
    """The layout engine did not finish within its time limit (it was stopped)."""


class TraceError(GraphscopeError):
    """Something given to ``trace`` cannot be traced (no tensor, no grad_fn, ...)."""
