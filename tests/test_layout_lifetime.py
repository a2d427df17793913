"""The layout child never outlives graphscope (issue 16): killed on timeout, on SIGINT/SIGTERM,
at exit, and by the kernel when graphscope is SIGKILLed; checked by the child's PID in /proc."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from graphscope import _child
from graphscope._child import Interrupted, LayoutTimeout, live, run_child, stop_on_signals
from graphscope.errors import RenderError
from graphscope.layout import Engine, layout

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux only)"),
]

SCRIPTS = Path(__file__).parent / "scripts"
_PR_SET_CHILD_SUBREAPER = 36


# -- /proc ----------------------------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state first), None when gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text.rpartition(")")[2].split()


def _started(pid: int) -> str | None:
    fields = _stat(pid)
    return fields[19] if fields else None  # field 22 of stat: start time in clock ticks


def _children(ppid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            fields = _stat(int(d.name))
            if fields and int(fields[1]) == ppid:
                out.append(int(d.name))
    return out


def _gone(pid: int, started: str | None) -> bool:
    """True when ``pid`` no longer names that process; a zombie is not gone until reaped.

    Orphans come to us (the test is a child subreaper), so a zombie we inherited is reaped
    here; one still owned by graphscope must be reaped by graphscope itself.
    """
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass  # not our child: graphscope (or the kernel's init) reaps it
    now = _started(pid)
    return now is None or (started is not None and now != started)  # None: any process counts


def _wait_gone(pid: int, started: str | None, within: float) -> float:
    """Seconds until ``pid`` is gone; fails after ``within``."""
    t0 = time.monotonic()
    while not _gone(pid, started):
        if time.monotonic() - t0 > within:
            fields = _stat(pid)
            pytest.fail(
                f"process {pid} still there after {within} s (state {fields and fields[0]})"
            )
        time.sleep(0.01)
    return time.monotonic() - t0


def _kill_if_left(pid: int, started: str | None) -> None:
    """Clean up after a failing test: never leave a layout running on the machine."""
    if not _gone(pid, started):
        os.kill(pid, signal.SIGKILL)


@pytest.fixture
def subreaper() -> Iterator[None]:
    """Orphaned descendants come to the test process (and are reaped by :func:`_gone`)
    instead of to PID 1, which may reap them late or never."""
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    try:
        yield
    finally:
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


# -- run_child ----------------------------------------------------------------------------------


def test_a_normal_run_returns_output_and_leaves_the_registry_empty() -> None:
    done = run_child(
        ["sh", "-c", "tr a-z A-Z; echo oops >&2; exit 3"], b"hello\n", timeout=30, what="sh"
    )
    assert done == _child.Finished(b"HELLO\n", b"oops\n", 3)
    assert live() == []


def test_the_child_runs_in_its_own_process_group() -> None:
    done = run_child(["sh", "-c", "echo $$; cat /proc/self/stat"], b"", timeout=30, what="sh")
    sh, stat = done.stdout.decode().split("\n", 1)
    pgid = int(stat.rpartition(")")[2].split()[2])  # cat's group: the one sh leads
    assert pgid == int(sh) != os.getpgid(0)


def test_a_timeout_kills_the_child_and_its_grandchild(tmp_path: Path, subreaper: None) -> None:
    pids = tmp_path / "pids"
    script = f"sleep 300 & echo $$ $! > {pids}; wait"
    t0 = time.monotonic()
    with pytest.raises(LayoutTimeout) as info:
        run_child(["sh", "-c", script], b"", timeout=0.5, what="the test layout")
    assert time.monotonic() - t0 < 5
    assert str(info.value) == (
        "the test layout did not finish in 0.5 s; lower --max-nodes or use --depth to collapse more"
    )
    assert isinstance(info.value, RenderError)
    child, grandchild = (int(p) for p in pids.read_text().split())
    try:
        assert _started(child) is None  # run_child reaped it before raising
        _wait_gone(grandchild, None, within=1.0)  # killed with the group; reaped here (orphan)
    finally:
        _kill_if_left(grandchild, None)
    assert live() == []


def test_layout_keeps_its_timeout_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    slow = tmp_path / "slow-engine"
    slow.write_text("#!/bin/sh\nexec sleep 300\n")
    slow.chmod(0o755)
    monkeypatch.setattr(sys.modules["graphscope.layout"], "LAYOUT_TIMEOUT", 0.3)
    with pytest.raises(RenderError, match=r"^the embedded layout did not finish in 0\.3 s; lower"):
        layout("digraph { a -> b }", "svg", Engine("embedded", str(slow)))
    assert live() == []


def test_a_sigkilled_parent_takes_its_child_along(tmp_path: Path, subreaper: None) -> None:
    pidfile = tmp_path / "pid"
    code = (
        "from graphscope._child import run_child\n"
        f"run_child(['sh', '-c', 'echo $$ > {pidfile}; exec sleep 300'], b'', timeout=300, what='x')\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code])
    try:
        child, started = _wait_for_pidfile(pidfile)
        assert _stat(child) and int(_stat(child)[1]) == parent.pid  # type: ignore[index]
        parent.kill()
        parent.wait()
        _wait_gone(child, started, within=1.0)  # the kernel's PR_SET_PDEATHSIG
    finally:
        parent.kill()
        parent.wait()


def test_atexit_kills_the_group_where_there_is_no_death_signal(
    tmp_path: Path, subreaper: None
) -> None:
    pidfile = tmp_path / "pid"
    code = (
        "import sys, threading, time\n"
        "from graphscope import _child\n"
        "_child._tie_to = lambda parent: None  # as on macOS: no PR_SET_PDEATHSIG\n"
        f"argv = ['sh', '-c', 'echo $$ > {pidfile}; exec sleep 300']\n"
        "kw = dict(timeout=300, what='x')\n"
        "threading.Thread(target=_child.run_child, args=(argv, b''), kwargs=kw, daemon=True).start()\n"
        f"while not open('{pidfile}', 'a+').tell(): time.sleep(0.02)\n"
        "sys.exit(0)  # the layout thread still runs: only atexit can stop its child\n"
    )
    parent = subprocess.run([sys.executable, "-c", code], timeout=60)
    assert parent.returncode == 0
    child = int(pidfile.read_text())
    try:
        _wait_gone(child, None, within=1.0)
    finally:
        _kill_if_left(child, None)


def _wait_for_pidfile(path: Path) -> tuple[int, str | None]:
    t0 = time.monotonic()
    while not (path.exists() and path.read_text().strip()):
        assert time.monotonic() - t0 < 30, "the child never started"
        time.sleep(0.02)
    pid = int(path.read_text())
    return pid, _started(pid)


def test_a_signal_stops_the_child_raises_interrupted_and_restores_the_handlers(
    tmp_path: Path,
) -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    pidfile = tmp_path / "pid"
    script = f"echo $$ > {pidfile}; kill -TERM $PPID; exec sleep 300"
    with pytest.raises(Interrupted) as info:
        with stop_on_signals():
            run_child(["sh", "-c", script], b"", timeout=300, what="sh")
    assert (info.value.signum, info.value.name, info.value.exit_code) == (15, "SIGTERM", 143)
    assert _started(int(pidfile.read_text())) is None  # killed and reaped
    assert live() == []
    assert {s: signal.getsignal(s) for s in before} == before


def test_a_second_signal_while_unwinding_is_ignored() -> None:
    with pytest.raises(Interrupted) as info:
        with stop_on_signals():
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)  # the handler raises here
            finally:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.05)  # its handler runs (and returns) here
    assert info.value.signum == signal.SIGTERM


def test_a_signal_while_the_child_starts_is_raised_once_it_is_registered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = subprocess.Popen
    pidfile = tmp_path / "pid"

    def popen(*args: object, **kwargs: object) -> subprocess.Popen[bytes]:
        proc = real(*args, **kwargs)  # type: ignore[call-overload]
        _wait_for_pidfile(pidfile)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # the handler runs here, before run_child knows the child
        return proc  # type: ignore[no-any-return]

    monkeypatch.setattr(_child.subprocess, "Popen", popen)
    with pytest.raises(Interrupted) as info:
        with stop_on_signals():
            run_child(
                ["sh", "-c", f"echo $$ > {pidfile}; exec sleep 300"], b"", timeout=300, what="x"
            )
    assert info.value.exit_code == 130
    assert _started(int(pidfile.read_text())) is None
    assert live() == []


# -- graphscope render, killed mid-layout ------------------------------------------------------


def _console_script() -> str:
    found = Path(sys.executable).parent / "graphscope"
    if found.exists():
        return str(found)
    which = shutil.which("graphscope")
    if which is None:
        pytest.skip("the graphscope console script is not installed (pip install -e .)")
    return which


def _start_render(out: Path, engine: str) -> subprocess.Popen[str]:
    cmd = [_console_script(), "render", str(SCRIPTS / "slow_layout.py"), "-o", str(out)]
    cmd += ["--max-nodes", "100000", "--engine", engine]
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env()
    )


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1"}


def _layout_child(gs: subprocess.Popen[str], out: Path) -> tuple[int, str | None]:
    """g2's layout process: g1's picture is written first, then g2's layout starts."""
    t0 = time.monotonic()
    while True:
        assert gs.poll() is None, f"graphscope ended early: {gs.communicate()[0]}"
        assert time.monotonic() - t0 < 120, "no layout started"
        kids = _children(gs.pid) if (out / "slow_layout.g1.svg").exists() else []
        if kids:
            (pid,) = kids
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
            if os.path.basename(cmd) in (b"graphviz-pure", b"dot") and _fed(pid, gs.pid):
                return pid, _started(pid)
        time.sleep(0.02)


def _fed(child: int, parent: int) -> bool:
    """True once ``parent`` has written all of the DOT and closed ``child``'s stdin: the child
    is laying out, not reading (an engine cut off mid-input would just exit at EOF)."""
    try:
        stdin = os.readlink(f"/proc/{child}/fd/0")
        held = [os.readlink(f) for f in Path(f"/proc/{parent}/fd").iterdir()]
    except FileNotFoundError:
        return False
    return stdin not in held


def _engines() -> list[object]:
    no_dot = shutil.which("dot") is None
    return [
        "embedded",
        pytest.param("dot", marks=pytest.mark.skipif(no_dot, reason="Graphviz dot not on PATH")),
    ]


@pytest.mark.parametrize("engine", _engines())
def test_sigterm_mid_layout_stops_the_layout_and_keeps_what_was_drawn(
    tmp_path: Path, engine: str, subreaper: None
) -> None:
    gs = _start_render(tmp_path, engine)
    child, started = _layout_child(gs, tmp_path)
    try:
        time.sleep(0.3)  # well inside the layout
        gs.send_signal(signal.SIGTERM)
        _wait_gone(child, started, within=1.0)
        output, _ = gs.communicate(timeout=60)
    finally:
        _kill_if_left(child, started)
        gs.kill()
    assert gs.returncode == 143, output
    g2 = tmp_path / "slow_layout.g2.svg"
    assert f"graphscope: SIGTERM stopped the drawing; skipped g2 ({g2})" in output
    assert f"wrote {tmp_path / 'slow_layout.g1.svg'}" in output
    report = json.loads((tmp_path / "report.json").read_text())
    assert [(g["id"], g["file"]) for g in report["graphs"]] == [
        ("g1", str(tmp_path / "slow_layout.g1.svg")),
        ("g2", None),
    ]
    assert not g2.exists()


@pytest.mark.parametrize("engine", _engines())
def test_sigkill_mid_layout_leaves_no_layout_running(
    tmp_path: Path, engine: str, subreaper: None
) -> None:
    gs = _start_render(tmp_path, engine)
    child, started = _layout_child(gs, tmp_path)
    try:
        gs.kill()
        gs.wait()
        _wait_gone(child, started, within=1.0)
    finally:
        _kill_if_left(child, started)
    assert gs.returncode == -signal.SIGKILL
    assert not (tmp_path / "report.json").exists()  # nothing of ours ran after SIGKILL


def test_the_scripts_own_ctrl_c_handling_is_unchanged(tmp_path: Path) -> None:
    script = str(SCRIPTS / "catches_interrupt.py")
    plain = subprocess.run(
        [sys.executable, script], capture_output=True, text=True, env=_env(), timeout=120
    )
    under = subprocess.run(
        [_console_script(), "render", script, "-o", str(tmp_path), "--format", "dot"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
    )
    assert plain.returncode == 0 and under.returncode == 0, under.stderr
    expected = [
        "SIGINT handler: default_int_handler",
        "SIGTERM handler is SIG_DFL: True",
        "caught KeyboardInterrupt",
        "grad: 2.0",
    ]
    assert plain.stdout.splitlines() == expected
    assert under.stdout.splitlines()[:4] == expected
