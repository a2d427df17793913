"""Run a user's script the way ``python SCRIPT ARGS`` would, under :func:`graphscope.watch`.

``__name__`` is ``"__main__"``, ``sys.argv`` is ``[SCRIPT, *ARGS]`` and the script's directory
is first on ``sys.path``. Whatever the script does (raise, ``sys.exit``, print), the caller
gets a :class:`~graphscope.watch.Scope` back, with the script's own exception, if any, turned
into plain data in ``scope.events.error``; the interpreter state we touched is restored.
"""

from __future__ import annotations

import os
import runpy
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from graphscope._tensors import is_internal
from graphscope.errors import UsageError
from graphscope.model import ScriptError
from graphscope.watcher import Scope, watch

__all__ = ["run_script", "Run"]


@dataclass
class Run:
    """A finished script run: what ``watch`` saw, plus how the script ended."""

    scope: Scope
    exit_code: int | str | None  # the script's sys.exit() value, None when it just ended
    seconds: float


def check_script(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    if not p.exists():
        raise UsageError(f"no such script: {path}")
    if p.is_dir():
        raise UsageError(
            f"{path} is a directory; give the Python file to run (e.g. {path}/train.py)"
        )
    try:
        with open(p, "rb"):
            pass
    except OSError as err:
        raise UsageError(f"cannot read {path}: {err.strerror}") from err
    return p


def run_script(
    path: str | os.PathLike[str],
    args: Sequence[str] = (),
    *,
    progress: Callable[[Scope, float], None] | None = None,
    progress_every: float = 5.0,
    **watch_options: object,
) -> Run:
    """Run ``path`` with ``args`` under ``watch(**watch_options)``; never raises for the
    script's own errors (they land in ``run.scope.events.error``).

    ``progress(scope, seconds)`` is called from a background thread every
    ``progress_every`` seconds while the script runs (for a long run's progress line).
    """
    p = check_script(path)
    script = str(p)
    saved_argv, saved_path = sys.argv[:], sys.path[:]
    sys.argv = [script, *args]
    sys.path.insert(0, str(p.resolve().parent))
    exit_code: int | str | None = None
    start = time.perf_counter()
    stop = threading.Event()
    try:
        with watch(script=script, **watch_options) as scope:  # type: ignore[arg-type]
            ticker = _ticker(scope, progress, progress_every, stop, start) if progress else None
            try:
                runpy.run_path(script, run_name="__main__")
            except SystemExit as ex:
                exit_code = (
                    ex.code if isinstance(ex.code, (int, str)) or ex.code is None else str(ex.code)
                )
            except KeyboardInterrupt:
                raise
            except BaseException as ex:  # the script's own failure: keep it as data
                scope.events.error = _script_error(ex, script)
                del ex
            finally:
                stop.set()
                if ticker is not None:
                    ticker.join(timeout=1)
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
    return Run(scope, exit_code, time.perf_counter() - start)


def _ticker(
    scope: Scope,
    progress: Callable[[Scope, float], None] | None,
    every: float,
    stop: threading.Event,
    start: float,
) -> threading.Thread:
    def loop() -> None:
        while not stop.wait(every):
            if progress is not None:
                progress(scope, time.perf_counter() - start)

    t = threading.Thread(target=loop, name="graphscope-progress", daemon=True)
    t.start()
    return t


def _script_error(ex: BaseException, script: str) -> ScriptError:
    """Type, message and the innermost line of the user's code of an exception."""
    file = line = None
    tb: TracebackType | None = ex.__traceback__
    for frame, lineno in traceback.walk_tb(tb):
        name = frame.f_code.co_filename
        if not is_internal(name):
            file, line = name, lineno
    if isinstance(ex, SyntaxError):
        file, line = ex.filename or script, ex.lineno
    message = str(ex).strip() or type(ex).__name__
    return ScriptError(type(ex).__name__, message[:2000], file, line)
