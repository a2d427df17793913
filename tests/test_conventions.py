"""The command line's conventions (issue 14): the script's ending passed on as Python gives it,
options before the script, ``-m``, ``-q``/``-v``, ``--select``/``--ignore``/``--fail-on``,
``[tool.graphscope]``, colour and ``NO_COLOR``; each against real scripts under tests/scripts.

Where the claim is "as Python does", the test runs the same script under plain Python and
compares.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from graphscope.cli import FAIL_ON, main
from graphscope.report import FAIL_ON as REPORT_FAIL_ON

SCRIPTS = Path(__file__).parent / "scripts"
ENV = dict(os.environ, OMP_NUM_THREADS="1")
ANSI = "\x1b["


def _cli(
    *args: str, env: dict[str, str] | None = None, color: bool = False
) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False, env=env, color=color)
    return result.exit_code, result.stdout, result.stderr


def _python(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=ENV, cwd=cwd, timeout=300
    )


def _report(out: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((out / "report.json").read_text())  # type: ignore[no-any-return]


# -- the script's ending --------------------------------------------------------------------------


def test_sys_exit_3_gives_3_and_the_report_says_so(tmp_path: Path) -> None:
    code, out, _ = _cli("render", str(SCRIPTS / "exits.py"), "-o", str(tmp_path), "--format", "dot")
    assert code == 3
    assert "the script called sys.exit(3) (" in out and "exits.py:8): exit status 3" in out
    report = _report(tmp_path)
    assert report["exit_code"] == 3 and report["status"] == 3
    assert report["error"] == {
        "type": "SystemExit",
        "message": "3",
        "file": str(SCRIPTS / "exits.py"),
        "line": 8,
        "how": "sys.exit",
        "exit_code": 3,
        "traceback": None,
    }
    code, _, _ = _cli("check", str(SCRIPTS / "exits.py"))
    assert code == 3


@pytest.mark.slow
def test_sys_exit_with_a_message_prints_it_and_exits_1_as_python(tmp_path: Path) -> None:
    plain = _python(str(SCRIPTS / "exit_message.py"))
    assert plain.returncode == 1 and plain.stderr == "fatal: no data in ./data\n"
    code, out, err = _cli("render", str(SCRIPTS / "exit_message.py"), "-o", str(tmp_path))
    assert code == 1
    assert err.endswith("fatal: no data in ./data\n")  # Python's own line, on stderr
    assert "the script called sys.exit('fatal: no data in ./data')" in out
    error = _report(tmp_path)["error"]
    assert (error["type"], error["message"], error["how"], error["exit_code"], error["line"]) == (
        "SystemExit",
        "fatal: no data in ./data",
        "sys.exit",
        1,
        7,
    )
    assert (tmp_path / "exit_message.g1.svg").exists()  # what it captured is drawn anyway


def test_status_is_the_larger_of_ours_and_the_scripts(tmp_path: Path) -> None:
    script = tmp_path / "warn_then_exit.py"
    body = (SCRIPTS / "pitfall_grad_accumulation.py").read_text()
    for tail, status in (
        ("", 1),
        ("import sys\nsys.exit(0)\n", 1),
        ("import sys\nsys.exit(7)\n", 7),
    ):
        script.write_text(body + tail)  # a warning finding (ours: 1), then the script's ending
        code, _, _ = _cli("check", str(script))
        assert code == status, tail
    script.write_text(body + "import sys\nsys.exit(7)\n")
    code, out, _ = _cli("check", "--fail-on", "never", "--json", str(script))
    assert code == 7 and json.loads(out)["status"] == 7


@pytest.mark.slow
def test_the_scripts_traceback_is_pythons_without_our_frames() -> None:
    for name in ("raises.py", "raises_in_backward.py"):
        plain = _python(str(SCRIPTS / name))
        ours = _python("-m", "graphscope", "check", str(SCRIPTS / name))
        assert plain.returncode == ours.returncode == 1
        assert plain.stderr.startswith("Traceback (most recent call last):\n")
        assert ours.stderr == plain.stderr, name  # byte for byte: no frame of graphscope's
        assert "graphscope" not in ours.stderr and "runpy" not in ours.stderr


@pytest.mark.slow
def test_the_traceback_is_kept_in_the_json_report() -> None:
    plain = _python(str(SCRIPTS / "raises_in_backward.py"))
    code, out, err = _cli("check", "--json", str(SCRIPTS / "raises_in_backward.py"))
    report = json.loads(out)
    assert code == 1 and report["status"] == 1 and report["exit_code"] == 1
    error = report["error"]
    assert error["type"] == "RuntimeError" and error["how"] == "raised"
    assert error["message"] == "grad can be implicitly created only for scalar outputs"
    assert error["line"] == 6 and error["file"] == str(SCRIPTS / "raises_in_backward.py")
    assert error["traceback"] == plain.stderr
    assert err.endswith(plain.stderr)  # and shown on stderr, as Python shows it
    assert [f["kind"] for f in report["findings"]] == ["nonscalar-backward"]


@pytest.mark.slow
def test_a_chained_exception_keeps_both_tracebacks(tmp_path: Path) -> None:
    script = tmp_path / "chained.py"
    script.write_text(
        "def load(d):\n    return d['missing']\n\n"
        "try:\n    load({})\nexcept KeyError as e:\n    raise RuntimeError('no config') from e\n"
    )
    plain = _python(str(script))
    ours = _python("-m", "graphscope", "check", str(script))
    assert "The above exception was the direct cause" in plain.stderr
    assert ours.stderr == plain.stderr


@pytest.mark.slow
def test_ctrl_c_keeps_what_was_captured_writes_it_and_exits_130(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "graphscope",
            "render",
            str(SCRIPTS / "signals" / "waits_for_ctrl_c.py"),
        ]
        + ["-o", str(tmp_path), "--engine", "embedded"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.rstrip().endswith("KeyboardInterrupt")
    assert "the script was interrupted (KeyboardInterrupt)" in out
    report = _report(tmp_path)
    assert report["backward_calls"] == 3 and report["graphs"][0]["calls"] == [1, 2, 3]
    assert report["error"]["how"] == "interrupted" and report["exit_code"] == 130
    assert (tmp_path / "waits_for_ctrl_c.g1.svg").exists()


def test_a_self_interrupted_script_reports_its_two_calls(tmp_path: Path) -> None:
    code, out, err = _cli(
        "render", str(SCRIPTS / "signals" / "interrupts_itself.py"), "-o", str(tmp_path)
    )
    assert code == 130
    assert "not reached" not in out
    report = _report(tmp_path)
    assert report["backward_calls"] == 2 and report["status"] == 130
    assert report["error"]["line"] == 10
    assert report["error"]["traceback"].endswith("KeyboardInterrupt\n")


@pytest.mark.slow
def test_the_scripts_own_keyboardinterrupt_handling_is_untouched() -> None:
    plain = _python(str(SCRIPTS / "signals" / "catches_interrupt.py"))
    ours = _python(
        "-m", "graphscope", "check", "-q", str(SCRIPTS / "signals" / "catches_interrupt.py")
    )
    assert plain.returncode == ours.returncode == 0
    expected = "interrupted after 2 steps, saving; w.grad = tensor([3.])\nfinished normally\n"
    assert plain.stdout == expected and ours.stdout.startswith(expected)
    assert "interrupted (KeyboardInterrupt)" not in ours.stdout


# -- arguments ------------------------------------------------------------------------------------


def test_options_before_the_script(tmp_path: Path) -> None:
    code, out, _ = _cli(
        "render", "-q", "--format", "dot", "-o", str(tmp_path), str(SCRIPTS / "seed_graph.py")
    )
    assert code == 0, out
    assert (tmp_path / "seed_graph.g1.gv").exists()
    code, _, err = _cli("render", "--bogus", str(SCRIPTS / "seed_graph.py"))
    assert code == 2 and "no such option: --bogus" in err
    code, _, err = _cli("check")
    assert code == 2 and "give a script to run" in err


@pytest.mark.slow
def test_module_runs_as_python_dash_m(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = _python("-m", "pkgdemo.train", "a", "-o", cwd=SCRIPTS)
    assert plain.returncode == 0, plain.stderr
    assert "argv: ['pkgdemo/train.py', 'a', '-o']" in plain.stdout
    monkeypatch.chdir(SCRIPTS)
    code, out, _ = _cli("render", "-m", "pkgdemo.train", "a", "-o", str(tmp_path), "--", "-o")
    assert code == 0, out
    assert out.startswith(plain.stdout)  # __name__, __package__, argv, sys.path[0], the grad
    report = _report(tmp_path)
    assert report["script"] == "pkgdemo.train" and report["backward_calls"] == 1
    assert (tmp_path / "pkgdemo.train.g1.svg").exists()
    code, out, _ = _cli("check", "-m", "pkgdemo")  # a package runs its __main__
    assert code == 0 and "pkgdemo main: tensor([5.])" in out
    code, _, err = _cli("check", "-m", "no_such_pkg.train")
    assert code == 2 and "no module named no_such_pkg" in err


@pytest.mark.slow
def test_python_dash_m_graphscope() -> None:
    proc = _python("-m", "graphscope", "check", str(SCRIPTS / "pitfall_grad_accumulation.py"))
    assert proc.returncode == 1
    assert "warning: grad-accumulation at " in proc.stdout and ANSI not in proc.stdout
    version = _python("-m", "graphscope", "-V")
    assert version.returncode == 0 and version.stdout.startswith("graphscope ")
    assert "torch " in version.stdout and "graphviz-pure " in version.stdout


@pytest.mark.slow
def test_help_and_version_load_no_torch() -> None:
    probe = (
        "import sys\n"
        "from graphscope.cli import main\n"
        "for args in (['--version'], ['--help'], ['render', '--help'], ['check', '--help']):\n"
        "    try:\n"
        "        main(args)\n"
        "    except SystemExit as e:\n"
        "        assert e.code == 0, (args, e.code)\n"
        "print(sorted(m for m in ('torch', 'networkx', 'numpy') if m in sys.modules))\n"
    )
    proc = _python("-c", probe)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"
    assert "--fail-on" in proc.stdout and "-m, --module MODULE" in proc.stdout


def test_quiet_prints_only_findings_and_verbose_lists_the_calls(tmp_path: Path) -> None:
    script = str(SCRIPTS / "pitfall_grad_accumulation.py")
    code, out, err = _cli("render", "-q", script, "-o", str(tmp_path), "--format", "dot")
    assert code == 1 and err == ""
    found = json.loads(_cli("check", "--json", script)[1])["findings"]
    lines = out.splitlines()  # the findings, each with its fix, and nothing else
    assert lines[0] == f"findings: {len(found)}" and len(lines) == 1 + 2 * len(found)
    assert all(line.startswith("  warning: grad-accumulation at ") for line in lines[1::2])
    assert all(line.startswith("    fix: ") for line in lines[2::2])
    code, out, _ = _cli("render", "-q", str(SCRIPTS / "seed_graph.py"), "-o", str(tmp_path))
    assert code == 0 and out == "w.grad: tensor([5.]) x.grad: tensor([2.])\n"  # the script's only
    code, out, _ = _cli("check", "-v", script)
    assert "  call 1: backward of loss at " in out and "  call 3: backward of loss" in out
    assert "settings: none" in out


# -- CI: which findings count ---------------------------------------------------------------------


def test_select_ignore_and_fail_on() -> None:
    script = str(SCRIPTS / "pitfall_grad_accumulation.py")  # one grad-accumulation warning
    assert _cli("check", script)[0] == 1
    code, out, _ = _cli("check", "--ignore", "grad-accumulation", script)
    assert code == 0 and "findings: none" in out
    code, out, _ = _cli("check", "--select", "leaf-inplace,graph-freed", script)
    assert code == 0 and "findings: none" in out
    code, out, _ = _cli("check", "--select", "grad-accumulation", "--json", script)
    assert code == 1 and {f["kind"] for f in json.loads(out)["findings"]} == {"grad-accumulation"}
    code, out, _ = _cli("check", "--fail-on", "error", script)
    assert code == 0 and "warning: grad-accumulation" in out  # still reported, does not fail
    assert _cli("check", "--fail-on", "never", script)[0] == 0
    info = str(SCRIPTS / "accumulates_only.py")  # one info finding
    assert _cli("check", info)[0] == 0
    assert _cli("check", "--fail-on", "info", info)[0] == 1
    code, _, err = _cli("check", "--select", "grad-acumulation", script)
    assert code == 2 and "unknown finding kind 'grad-acumulation'" in err
    assert FAIL_ON == REPORT_FAIL_ON


def test_ignored_findings_are_not_drawn(tmp_path: Path) -> None:
    script = str(SCRIPTS / "pitfall_grad_accumulation.py")
    _cli("render", script, "-o", str(tmp_path / "a"), "--format", "dot")
    _cli(
        "render",
        script,
        "-o",
        str(tmp_path / "b"),
        "--format",
        "dot",
        "--ignore",
        "grad-accumulation",
    )
    kept = (tmp_path / "a" / "pitfall_grad_accumulation.g1.gv").read_text()
    dropped = (tmp_path / "b" / "pitfall_grad_accumulation.g1.gv").read_text()
    assert "finding: warning" in kept and "finding" not in dropped


# -- [tool.graphscope] ----------------------------------------------------------------------------


def _project(tmp_path: Path, table: str) -> Path:
    """A project folder with a pyproject.toml and the grad-accumulation script one level down."""
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "pyproject.toml").write_text(f"[project]\nname = 'x'\n\n[tool.graphscope]\n{table}")
    (tmp_path / "src").mkdir()
    script = tmp_path / "src" / "train.py"
    shutil.copy(SCRIPTS / "pitfall_grad_accumulation.py", script)
    return script


def test_pyproject_settings_apply_and_the_command_line_wins(tmp_path: Path) -> None:
    script = _project(
        tmp_path, 'fail-on = "error"\nformat = "dot"\nrankdir = "LR"\nignore = ["leaf-inplace"]\n'
    )
    out_dir = tmp_path / "out"
    code, out, _ = _cli("render", str(script), "-o", str(out_dir))
    assert code == 0, out  # fail-on = "error": the warning does not fail
    dot = (out_dir / "train.g1.gv").read_text()  # format = "dot"
    assert "rankdir=LR" in dot
    code, out, _ = _cli("render", str(script), "-o", str(out_dir), "--fail-on", "warning")
    assert code == 1  # the flag wins over the file
    code, out, _ = _cli("check", "-v", str(script))
    assert code == 0 and f"settings: {tmp_path / 'pyproject.toml'}" in out


def test_pyproject_errors_are_usage_errors(tmp_path: Path) -> None:
    script = _project(tmp_path, 'fail-on = "sometimes"\n')
    code, _, err = _cli("check", str(script))
    assert code == 2 and "pyproject.toml: [tool.graphscope] fail-on:" in err and "sometimes" in err
    script = _project(tmp_path / "b", 'colour = "always"\n')
    code, _, err = _cli("check", str(script))
    assert code == 2 and "unknown key 'colour'" in err
    script = _project(tmp_path / "c", 'select = ["no-such-kind"]\n')
    code, _, err = _cli("check", str(script))
    assert code == 2 and "unknown finding kind 'no-such-kind'" in err
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "pyproject.toml").write_text("[tool.graphscope\n")
    shutil.copy(SCRIPTS / "seed_graph.py", tmp_path / "d" / "t.py")
    code, _, err = _cli("check", str(tmp_path / "d" / "t.py"))
    assert code == 2 and "is not valid TOML" in err


def test_a_pyproject_without_the_table_is_skipped(tmp_path: Path) -> None:
    script = _project(tmp_path, 'fail-on = "never"\n')
    (tmp_path / "src" / "pyproject.toml").write_text("[project]\nname = 'inner'\n")
    code, out, _ = _cli("check", "-v", str(script))
    assert code == 0 and f"settings: {tmp_path / 'pyproject.toml'}" in out


# -- colour ---------------------------------------------------------------------------------------


def test_colour_on_a_terminal_none_with_no_color_or_a_pipe() -> None:
    script = str(SCRIPTS / "pitfall_grad_accumulation.py")
    _, out, _ = _cli("check", script, color=True)  # as on a terminal
    assert "\x1b[33m\x1b[1mwarning\x1b[0m: grad-accumulation" in out
    _, plain, _ = _cli("check", script, color=True, env={"NO_COLOR": "1"})
    assert ANSI not in plain and "  warning: grad-accumulation" in plain
    _, piped, _ = _cli("check", script)  # not a terminal
    assert piped == plain


def test_force_color_colours_a_pipe_and_no_color_still_wins() -> None:
    """Issue 26: CI logs render colour, but graphscope's output there is a pipe."""
    script = str(SCRIPTS / "pitfall_grad_accumulation.py")
    _, forced, _ = _cli("check", script, env={"FORCE_COLOR": "1"})  # not a terminal
    assert "\x1b[33m\x1b[1mwarning\x1b[0m: grad-accumulation" in forced
    _, plain, _ = _cli("check", script)
    for env in ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, {"FORCE_COLOR": "0"}, {"FORCE_COLOR": ""}):
        _, out, _ = _cli("check", script, env=env)
        assert out == plain and ANSI not in out, env


@pytest.mark.slow
def test_colour_on_a_real_terminal() -> None:
    import pty

    def run(env: dict[str, str]) -> bytes:
        argv = [sys.executable, "-m", "graphscope", "check", str(SCRIPTS / "accumulates_only.py")]
        pid, fd = pty.fork()
        if pid == 0:  # the child: graphscope with the pty as its terminal
            os.execve(sys.executable, argv, env)
        chunks = []
        while True:
            try:
                data = os.read(fd, 4096)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        os.waitpid(pid, 0)
        return b"".join(chunks)

    coloured = run(dict(ENV, TERM="xterm"))
    assert b"\x1b[34minfo\x1b[0m: grad-accumulation" in coloured
    assert b"\x1b[32mfindings: 1" not in coloured  # only "findings: none" is green
    env = dict(ENV, TERM="xterm", NO_COLOR="1")
    assert b"\x1b[" not in run(env) and b"info: grad-accumulation" in run(env)
