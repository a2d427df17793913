"""Run a helper program (the layout engine) whose life is tied to ours, and stop it on a signal.

A layout of a big graph can run for minutes; a graphscope stopped from outside (Ctrl-C, a CI
``timeout``, a scheduler's SIGTERM, SIGKILL) must not leave it running. :func:`run_child`
starts the program so that it dies with us, whatever way we end:

* **its own process group** (``start_new_session``): one ``killpg`` reaches the program and
  anything it started, and a Ctrl-C typed in the terminal reaches only graphscope, which then
  stops the child itself;
* **a parent-death signal** (Linux): in the child, between fork and exec,
  ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` asks the kernel to SIGKILL the child when the thread
  that started it ends, even when graphscope itself is SIGKILLed (nothing of ours runs then).
  If graphscope died before the ``prctl``, ``getppid()`` has changed already: the child kills
  itself. Skipped where there is no ``prctl`` (macOS, Windows): the other three still hold;
* **a registry** of the children running now: the whole group is SIGKILLed (and reaped) when
  the time limit passes (:class:`LayoutTimeout`), when any exception leaves :func:`run_child`
  (a ``KeyboardInterrupt`` inside a user's ``graphscope.render`` call), at interpreter exit
  (``atexit``), and when :func:`stop_on_signals` sees SIGINT or SIGTERM.

:func:`stop_on_signals` is for the CLI's drawing loop only, never around a user's script: it
turns the first SIGINT/SIGTERM into :class:`Interrupted` (after killing the live children),
ignores repeats until the block ends (so an impatient second Ctrl-C cannot cut the reaping
short), and restores the previous handlers on exit. Catch :class:`Interrupted` around the
``with`` statement, not inside it: a signal that comes while the handlers are being restored
is raised from the ``with`` itself. Nothing here imports torch.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import FrameType

from graphscope.errors import LayoutTimeout

__all__ = ["run_child", "Finished", "LayoutTimeout", "Interrupted", "stop_on_signals", "live"]

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_SIGKILL = int(getattr(signal, "SIGKILL", 9))  # 9 on every POSIX system


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived inside :func:`stop_on_signals`; ``exit_code`` is 128 + signal.

    A ``BaseException`` like ``KeyboardInterrupt``, so that no ``except Exception`` on the way
    swallows it.
    """

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.name = signal.Signals(signum).name
        self.exit_code = 128 + signum
        super().__init__(f"stopped by {self.name}")


@dataclass(frozen=True)
class Finished:
    """What a child wrote and how it ended."""

    stdout: bytes
    stderr: bytes
    returncode: int


class _Live:
    """The children running now, and a signal that arrived while one was being started."""

    def __init__(self) -> None:
        self.procs: set[subprocess.Popen[bytes]] = set()
        self.starting = 0  # > 0 while Popen runs: a Popen cut short would lose its child
        self.deferred: int | None = None


_LIVE = _Live()


def live() -> list[int]:
    """The PIDs of the children running now (empty when no layout runs)."""
    return sorted(p.pid for p in _LIVE.procs)


def run_child(argv: Sequence[str], data: bytes, *, timeout: float, what: str) -> Finished:
    """Run ``argv`` with ``data`` on stdin and return its output; it never outlives us.

    Raises :class:`LayoutTimeout` (naming ``what``) after ``timeout`` seconds, ``OSError``
    when ``argv[0]`` cannot be started.
    """
    _LIVE.starting += 1
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=_tie_to(os.getpid()),
        )
        _LIVE.procs.add(proc)
    except BaseException:
        _raise_deferred()  # a signal came while Popen failed: it wins over the OSError
        raise
    finally:
        _LIVE.starting -= 1
    with proc:
        try:
            _raise_deferred()
            out, err = proc.communicate(data, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise LayoutTimeout(
                f"{what} did not finish in {timeout:g} s; lower --max-nodes "
                "or use --depth to collapse more"
            ) from None
        finally:
            _kill(proc)
            _LIVE.procs.discard(proc)
    return Finished(out, err, proc.returncode)


def _tie_to(parent: int) -> Callable[[], None] | None:
    """The ``preexec_fn`` that asks for SIGKILL at the parent's death; None without prctl."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.restype = ctypes.c_int  # resolved here: the forked child only calls it

    def tie() -> None:
        prctl(_PR_SET_PDEATHSIG, _SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGKILL)

    return tie


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL ``proc``'s whole group if it is not reaped yet, then reap it."""
    if proc.returncode is None:  # not reaped: its pid is still its group's id, not reusable
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if hasattr(os, "killpg"):
                os.killpg(proc.pid, _SIGKILL)
            else:  # pragma: no cover - Windows
                proc.kill()
    proc.wait()


def _kill_all() -> None:
    """SIGKILL every live child's group (at exit, on a signal)."""
    for proc in list(_LIVE.procs):
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError, AttributeError):
                os.killpg(proc.pid, _SIGKILL)


atexit.register(_kill_all)


def _raise_deferred() -> None:
    """Raise the :class:`Interrupted` of a signal that came while a child was being started."""
    signum, _LIVE.deferred = _LIVE.deferred, None
    if signum is not None:
        raise Interrupted(signum)


@contextlib.contextmanager
def stop_on_signals(
    signums: Sequence[int] = (signal.SIGINT, signal.SIGTERM),
) -> Iterator[None]:
    """Inside the block, the first of ``signums`` kills the live children and raises
    :class:`Interrupted`; later ones are ignored until the block ends. The previous handlers
    come back on exit. Does nothing outside the main thread (Python runs handlers there only).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    seen: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if seen:
            return
        seen.append(signum)
        _kill_all()
        if _LIVE.starting:
            _LIVE.deferred = signum  # raised by run_child once the new child is registered
            return
        raise Interrupted(signum)

    previous = {s: signal.signal(s, handler) for s in signums}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)
        _LIVE.deferred = None
