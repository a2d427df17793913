"""Run a user's script the way ``python SCRIPT ARGS`` (or ``python -m MODULE ARGS``) would,
under :func:`graphscope.watch`.

A file runs with ``__name__ == "__main__"``, ``sys.argv == [SCRIPT, *ARGS]`` and the script's
directory first on ``sys.path``; a module (:func:`run_module`) as ``python -m`` runs it:
``runpy.run_module`` semantics, ``sys.argv[0]`` the module's file and the working directory
first on ``sys.path``. Whatever the script does (raise, ``sys.exit``, print, be interrupted by
Ctrl-C), the caller gets a :class:`Run` back: what ``watch`` captured up to that moment, and
how the script ended (:class:`~graphscope.model.ScriptExit`: Python's exit status, and the
traceback of the script's own frames as Python would print it). The interpreter state we
touched (``sys.argv``, ``sys.path``) is restored.
"""

from __future__ import annotations

import bdb
import contextlib
import dis
import os
import runpy
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import torch

from graphscope._tensors import CALL_SITE, is_internal
from graphscope.model import ScriptError, ScriptExit
from graphscope.preflight import check_module, check_script
from graphscope.watcher import Scope, watch
from graphscope.watcher.errorsite import error_site
from graphscope.watcher.stops import Quit

__all__ = ["run_script", "run_module", "Run", "script_traceback", "Terminated"]

#: torch's words for a saved tensor written in place (the error a stop at the write foretold)
MARK = "modified by an inplace operation"
_OUR_DIR = os.path.dirname(os.path.abspath(__file__))
_SCENARIO_DIR = os.path.join(_OUR_DIR, "scenarios")  # user code, shipped with us
_RUNPY = os.path.abspath(runpy.__file__)
_BDB = bdb.__file__
_OVERRIDES = os.path.join(os.path.dirname(os.path.abspath(torch.__file__)), "overrides.py")


class Terminated(BaseException):
    """SIGTERM came while the script ran (``timeout``, a cluster scheduler ending the job).

    Raised in the script's main thread, as Ctrl-C raises KeyboardInterrupt, so that what was
    captured until then is reported and drawn; the exit status is then 143 (128 + SIGTERM), as
    the shell gives for a process SIGTERM ended. A BaseException, so the script's own
    ``except Exception`` does not swallow it."""


@dataclass
class Run:
    """A finished script run: what ``watch`` saw, plus how the script ended."""

    scope: Scope
    ending: ScriptExit
    seconds: float

    @property
    def exit_code(self) -> int:
        """The exit status ``python SCRIPT`` would have given."""
        return self.ending.status


def run_script(
    path: str | os.PathLike[str],
    args: Sequence[str] = (),
    *,
    progress: Callable[[Scope, float], None] | None = None,
    progress_every: float = 5.0,
    debug: bool = False,
    **watch_options: object,
) -> Run:
    """Run ``path`` with ``args`` under ``watch(**watch_options)`` as ``python path args``
    would; never raises for the script's own errors, ``sys.exit`` or Ctrl-C (see :class:`Run`).

    ``debug``: when the script raises, its error and warning findings are printed and pdb
    opens post-mortem in the script's innermost frame of the traceback (commands from stdin),
    after ``watch`` has ended (what is typed at the prompt is not recorded).

    ``progress(scope, seconds)`` is called from a background thread every
    ``progress_every`` seconds while the script runs (for a long run's progress line).
    """
    p = check_script(path)
    script = str(p)
    code_path = os.path.abspath(script)  # as python names the file of its code (3.9+)

    def body() -> None:
        runpy.run_path(code_path, run_name="__main__")

    path0 = str(p.resolve().parent)
    return _run(
        body, script, [script, *args], path0, progress, progress_every, watch_options, debug
    )


def run_module(
    name: str,
    args: Sequence[str] = (),
    *,
    progress: Callable[[Scope, float], None] | None = None,
    progress_every: float = 5.0,
    debug: bool = False,
    **watch_options: object,
) -> Run:
    """Run module ``name`` with ``args`` under ``watch`` as ``python -m name args`` would
    (``runpy.run_module`` with ``alter_sys``: ``sys.argv[0]`` becomes the module's file, the
    working directory is first on ``sys.path``); otherwise as :func:`run_script`."""
    check_module(name)

    def body() -> None:
        runpy.run_module(name, run_name="__main__", alter_sys=True)

    return _run(
        body, name, [name, *args], os.getcwd(), progress, progress_every, watch_options, debug
    )


def _run(
    body: Callable[[], None],
    script: str,
    argv: list[str],
    path0: str,
    progress: Callable[[Scope, float], None] | None,
    progress_every: float,
    watch_options: dict[str, object],
    debug: bool = False,
) -> Run:
    """Run ``body`` under ``watch`` with ``sys.argv``/``sys.path[0]`` set; how it ended."""
    raised: BaseException | None = None
    saved_argv, saved_path = sys.argv[:], sys.path[:]
    sys.argv = argv
    sys.path.insert(0, path0)
    ending = ScriptExit("finished")
    start = time.perf_counter()
    stop = threading.Event()
    if debug:  # every forward recorded: the write to stop at is not skipped by sampling
        watch_options = {"sample": None, **watch_options}
    try:
        with watch(script=script, debug=debug, **watch_options) as scope:  # type: ignore[arg-type]
            ticker = _ticker(scope, progress, progress_every, stop, start) if progress else None
            try:
                with _sigterm_ends_the_script():
                    try:
                        body()
                    finally:
                        if scope.stopped_at:
                            _stop_tracing()
            except BaseException as ex:  # the script's own ending: keep it as data
                if scope.stopped_at and isinstance(ex, bdb.BdbQuit):
                    # q at a prompt that n or s led to from a stop at a write
                    ex = Quit().with_traceback(ex.__traceback__)
                ending = _ending(ex, script)
                if ending.how == "raised":
                    scope.events.error = _script_error(ex, ending)
                    if debug:
                        raised = ex
                del ex
            finally:
                stop.set()
                if ticker is not None:
                    ticker.join(timeout=1)
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
    if raised is not None:
        try:
            if scope.stopped_at and MARK in str(raised):
                file, line = scope.stopped_at[0]
                print(
                    f"graphscope: not opening pdb again: this is the error of the in-place "
                    f"write at {file}:{line}, where pdb stopped"
                )
            else:
                _post_mortem(raised, scope)
        finally:
            raised = None  # the frames it holds go with it
    return Run(scope, ending, time.perf_counter() - start)


def _stop_tracing() -> None:
    """The script ended while pdb stepped through it (``n`` from a stop at a write): pdb stops
    tracing there, not in the frames of ours that follow (a user's own tracer is left alone)."""
    if isinstance(getattr(sys.gettrace(), "__self__", None), bdb.Bdb):
        sys.settrace(None)


def _post_mortem(ex: BaseException, scope: Scope) -> None:
    """Print the error and warning findings, then pdb in the innermost frame of the user's code
    in ``ex``'s traceback (torch's frames below it are cut off: the prompt opens at the user's
    line). Commands come from stdin; ``c`` or ``q`` end it and the run's report follows."""
    import pdb

    for f in scope.findings:
        if f.severity in ("error", "warning"):
            print(f"graphscope: {f.severity}: {f.kind} at {f.file}:{f.line}: {f.message}")
            print(f"  fix: {f.hint}")
    tb = ex.__traceback__
    user = None
    while tb is not None:
        code = tb.tb_frame.f_code
        if not is_internal(code.co_filename) and code.co_name != CALL_SITE:
            user = tb
        tb = tb.tb_next
    if user is None:
        return
    print(f"graphscope: {type(ex).__name__}: {str(ex).splitlines()[0] if str(ex) else ''}")
    print("graphscope: entering pdb at the line that raised (c or q to leave)")
    user.tb_next = None
    debugger = pdb.Pdb()
    debugger.reset()
    debugger.interaction(None, user)


@contextlib.contextmanager
def _sigterm_ends_the_script() -> Iterator[None]:
    """While the script runs, SIGTERM raises :class:`Terminated` in it (only when SIGTERM has
    its default action: a handler someone installed before stays theirs, and one the script
    installs replaces ours, as it would replace the default). Forked children (DataLoader
    workers) get the default action back, as they have under plain Python."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if _getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return
    _signal(signal.SIGTERM, _on_sigterm)
    # the script still sees SIGTERM's default action (signal.getsignal, and what signal.signal
    # returns when it installs its own handler), as under plain Python
    signal.getsignal, signal.signal = _seen_getsignal, _seen_signal  # type: ignore[assignment]
    try:
        yield
    finally:
        signal.getsignal, signal.signal = _getsignal, _signal
        if _getsignal(signal.SIGTERM) is _on_sigterm:
            _signal(signal.SIGTERM, signal.SIG_DFL)


_getsignal, _signal = signal.getsignal, signal.signal


def _seen_getsignal(signalnum: int) -> Any:
    h = _getsignal(signalnum)
    return signal.SIG_DFL if h is _on_sigterm else h


def _seen_signal(signalnum: int, handler: Any) -> Any:
    h = _signal(signalnum, handler)
    return signal.SIG_DFL if h is _on_sigterm else h


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated()


def _default_sigterm_in_child() -> None:
    if _getsignal(signal.SIGTERM) is _on_sigterm:
        _signal(signal.SIGTERM, signal.SIG_DFL)


if hasattr(os, "register_at_fork"):  # once per process: the hook checks whose handler it is
    os.register_at_fork(after_in_child=_default_sigterm_in_child)


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


def _ending(ex: BaseException, script: str) -> ScriptExit:
    """How the script ended with ``ex``, as Python's top level would treat it."""
    file, line = _user_line(ex, script)
    if isinstance(ex, SystemExit):
        code = ex.code
        if code is None or isinstance(code, int):  # bool is an int too, as in Python
            status = int(code or 0) % 256
            return ScriptExit("sys.exit", status, "SystemExit", str(code), file, line)
        text = str(code)  # Python prints any other argument to stderr and exits 1
        return ScriptExit("sys.exit", 1, "SystemExit", text, file, line, text + "\n")
    if isinstance(ex, Quit):  # q at graphscope's pdb prompt: stopped as pytest --pdb stops
        tb = [(f, n) for f, n in traceback.walk_tb(ex.__traceback__)]
        for frame, lineno in tb:  # the user's line, not bdb's (a q after n raises in bdb)
            if not is_internal(frame.f_code.co_filename) and frame.f_code.co_filename != _BDB:
                file, line = frame.f_code.co_filename, lineno
        return ScriptExit("quit", 2, "Quit", "Quitting debugger", file, line)
    if isinstance(ex, Terminated):  # plain Python would have died without a word
        return ScriptExit("terminated", 143, "SIGTERM", "", file, line)
    how, status = ("interrupted", 130) if isinstance(ex, KeyboardInterrupt) else ("raised", 1)
    message = str(ex).strip()
    return ScriptExit(how, status, type(ex).__name__, message, file, line, script_traceback(ex))


def _user_line(ex: BaseException, script: str) -> tuple[str | None, int | None]:
    """The innermost line of the user's code in ``ex``'s traceback (a SyntaxError: its own)."""
    if isinstance(ex, SyntaxError):
        return ex.filename or script, ex.lineno
    file = line = None
    tb: TracebackType | None = ex.__traceback__
    for frame, lineno in traceback.walk_tb(tb):
        name = frame.f_code.co_filename
        if not is_internal(name):
            file, line = name, lineno
    return file, line


def _script_error(ex: BaseException, ending: ScriptExit) -> ScriptError:
    """The exception as the checks read it: type, message, innermost user line, who raised it."""
    message = ending.message or type(ex).__name__
    return ScriptError(
        type(ex).__name__,
        message[:2000],
        ending.file,
        ending.line,
        _origin(ex),
        error_site(ex),
    )


_TORCH_DIR = os.path.dirname(os.path.abspath(torch.__file__)) + os.sep
_LIBRARY_DIRS = (f"{os.sep}site-packages{os.sep}", f"{os.sep}dist-packages{os.sep}")
_RAISES = {dis.opmap[n] for n in ("RAISE_VARARGS", "RERAISE") if n in dis.opmap}


def _origin(ex: BaseException) -> str | None:
    """Who raised ``ex`` (see :class:`~graphscope.model.ScriptError`): the innermost frame that
    is not ours is torch's (``"torch"``), another library's (``"library"``), or the user's, at a
    ``raise`` statement (``"raise"``) or at a call into compiled code (``"call"``)."""
    try:
        last = None
        tb: TracebackType | None = ex.__traceback__
        while tb is not None:
            code = tb.tb_frame.f_code
            if not _ours(code.co_filename) and code.co_name != CALL_SITE:
                last = tb
            tb = tb.tb_next
        if last is None:
            return None
        name = last.tb_frame.f_code.co_filename
        if os.path.abspath(name).startswith(_TORCH_DIR):
            return "torch"
        if is_internal(name) or any(d in name for d in _LIBRARY_DIRS):
            return "library"
        code_bytes = last.tb_frame.f_code.co_code
        op = code_bytes[last.tb_lasti] if 0 <= last.tb_lasti < len(code_bytes) else None
        return "raise" if op in _RAISES else "call"
    except Exception:  # a traceback we cannot read: say nothing rather than guess
        return None


def _ours(filename: str) -> bool:
    """A frame of graphscope itself or of the runpy machinery that started the script."""
    if filename.startswith(_OUR_DIR + os.sep):
        return not filename.startswith(_SCENARIO_DIR + os.sep)
    return filename in (_RUNPY, "<frozen runpy>")


def script_traceback(ex: BaseException) -> str:
    """The traceback Python prints for ``ex``, without graphscope's or runpy's frames.

    Chained exceptions (``raise ... from``, "During handling ...") are kept, as Python shows
    them; torch's and the script's frames are kept; only the frames of ours that ran the
    script (and the hooks we wrapped around torch's calls) are dropped.
    """
    te = traceback.TracebackException(type(ex), ex, ex.__traceback__, compact=True)
    _drop_our_frames(te, set())
    return "".join(te.format())


def _drop_our_frames(te: traceback.TracebackException, seen: set[int]) -> None:
    if id(te) in seen:
        return
    seen.add(id(te))
    te.stack = traceback.StackSummary.from_list(_their_frames(list(te.stack)))
    for nested in (te.__cause__, te.__context__, *(getattr(te, "exceptions", None) or ())):
        if nested is not None:
            _drop_our_frames(nested, seen)


def _their_frames(stack: list[traceback.FrameSummary]) -> list[traceback.FrameSummary]:
    """``stack`` less our frames, and less the frames torch adds only to call into a mode of
    ours (``return handle_torch_function(...)`` and ``torch/overrides.py`` just before one of
    our frames), which plain Python would not show."""
    drop = set()
    for i, frame in enumerate(stack):
        if frame.name == CALL_SITE:  # recorder/callsite.py: the user's line, shown just above
            drop.add(i)
            continue
        if not _ours(frame.filename):
            continue
        drop.add(i)
        j = i - 1
        while j >= 0 and stack[j].filename == _OVERRIDES:
            drop.add(j)
            j -= 1
        if j < i - 1 and j >= 0 and "handle_torch_function" in (stack[j].line or ""):
            drop.add(j)
    return [f for i, f in enumerate(stack) if i not in drop]
