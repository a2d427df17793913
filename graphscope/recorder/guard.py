"""Our hooks never raise into the user's code: an error of ours is reported, and we step aside.

torch calls graphscope's hooks from inside the user's own calls: global optimizer and module
hooks, tensor (node) hooks during backward, the recording TorchFunctionMode, and the wrappers
around ``zero_grad``, ``no_grad``, ``torch.compile`` and the autograd engine. An exception one of
them lets out would surface in the user's program at ``opt.step()`` or ``model(x)`` and change
how it ends. So every such entry point runs its own work under a :class:`Guard`:

* :meth:`Guard.hook` wraps a hook that only observes (it returns None): an exception is
  reported, the hook returns None, and the user's call goes on as without graphscope;
* a wrapper around the user's call does its bookkeeping before and after that call inside
  ``try`` blocks that end in :meth:`Guard.fail`, and calls the user's function outside them
  (the user's own exception propagates unchanged, without ours chained to it).

The first failure turns the guard :attr:`~Guard.off`: no backward call is captured after it and
the recorder pauses at its next safe point for good (recording stops there, so what was recorded
stays a consistent prefix of the program rather than a record with holes that a check could
misread); the hooks that keep the program as it is without graphscope (the fast paths, compiled
code's step aside) go on working. :meth:`Guard.fail` itself never raises, even when the user
turned warnings into errors.

>>> g = Guard()
>>> g.hook("a test", lambda: 1 / 0)()  # reported, not raised
>>> g.off, g.failures
(True, ['a test: ZeroDivisionError: division by zero'])
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

__all__ = ["Guard", "Report"]

#: ``report(what, err)``: where a failure goes (the session: a note in the report, a warning)
Report = Callable[[str, Exception], None]


class Guard:
    """The error boundary shared by one session's hooks (see the module docstring)."""

    def __init__(self, report: Report | None = None) -> None:
        self.report = report
        self.off = False
        #: ``"<what>: <Type>: <message>"`` of each failure (the first few)
        self.failures: list[str] = []
        #: called once, at the first failure (the recorder pauses its mode there)
        self.on_off: list[Callable[[], None]] = []

    def fail(self, what: str, err: Exception) -> None:
        """An error of ours while ``what``: report it and step aside. Never raises."""
        try:
            first = not self.off
            self.off = True
            if len(self.failures) < 10:
                self.failures.append(f"{what}: {type(err).__name__}: {err}")
            if self.report is not None:
                self.report(what, err)
            if first:
                for stop in self.on_off:
                    stop()
        except Exception:  # noqa: S110 (the boundary itself must not raise)
            pass

    def hook(self, what: str, fn: Callable[..., Any]) -> Callable[..., None]:
        """``fn`` (a hook that returns None) run so that its errors are reported, not raised."""
        guard = self

        @functools.wraps(fn)
        def guarded(*args: Any, **kwargs: Any) -> None:
            try:
                fn(*args, **kwargs)
            except Exception as err:
                guard.fail(what, err)

        return guarded
