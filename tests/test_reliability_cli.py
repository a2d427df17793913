"""The command line never changes what the user sees of their program (issue 23, items 2-5).

Each test runs a script under plain Python and under ``graphscope`` in a subprocess and
compares what the user gets: exit status, the script's output, the files written.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_reliability import ENV, GRAPHSCOPE, SCRIPTS, _run

WANDERS = str(SCRIPTS / "wanders.py")
#: what wanders.py prints, in order (the late child's line comes after the script ended)
WANDERS_LINES = ["grad [2.0, 2.0, 2.0]", "child process", "bye from atexit", "late child"]


@pytest.mark.slow
def test_pictures_land_where_o_said_though_the_script_changes_directory(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    plain = _run([sys.executable, WANDERS, "elsewhere"], cwd=tmp_path / "p")
    assert plain.code == 0 and plain.out.splitlines() == WANDERS_LINES, plain.err
    work = tmp_path / "g"
    work.mkdir()
    ran = _run([*GRAPHSCOPE, "render", WANDERS, "elsewhere", "-o", "out"], cwd=work)
    assert ran.code == plain.code, ran.err[-2000:]
    assert sorted(p.name for p in (work / "out").iterdir()) == ["report.json", "wanders.g1.svg"]
    assert not (work / "elsewhere" / "out").exists()
    assert "  wrote out/wanders.g1.svg\n  wrote out/report.json\n" in ran.out
    report = json.loads((work / "out" / "report.json").read_text())
    assert report["graphs"][0]["file"] == "out/wanders.g1.svg"
    lines = [line for line in ran.out.splitlines() if line in WANDERS_LINES]
    assert lines == WANDERS_LINES  # the script's own output, all of it, in its order


@pytest.mark.slow
def test_check_json_stdout_is_one_document_whatever_the_script_prints_at_exit(
    tmp_path: Path,
) -> None:
    """atexit prints and a child still writing after the script ended used to follow the
    report on stdout; now they go to stderr, in the order plain Python prints them."""
    plain = _run([sys.executable, WANDERS, str(tmp_path / "a")])
    ran = _run([*GRAPHSCOPE, "check", "--json", WANDERS, str(tmp_path / "b")])
    assert ran.code == plain.code == 0, ran.err[-2000:]
    report = json.loads(ran.out)  # exactly one JSON document
    assert report["backward_calls"] == 1 and report["error"] is None
    assert plain.out.splitlines() == WANDERS_LINES
    assert [line for line in ran.err.splitlines() if line in WANDERS_LINES] == WANDERS_LINES


def _stopped_by_sigterm(argv: list[str], cwd: Path) -> tuple[int, str, str]:
    """Start ``argv``, wait until the script says it is ready, send SIGTERM (as ``timeout -s
    TERM`` or a scheduler does); its exit status, stdout and stderr."""
    out, err = cwd / "stdout.txt", cwd / "stderr.txt"
    with out.open("w") as o, err.open("w") as e:
        proc = subprocess.Popen(argv, stdout=o, stderr=e, env=ENV, cwd=cwd)
        deadline = time.monotonic() + 300
        while "ready" not in out.read_text() + err.read_text() and proc.poll() is None:
            assert time.monotonic() < deadline, err.read_text()[-2000:]
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=300)
    return code, out.read_text(), err.read_text()


@pytest.mark.slow
def test_sigterm_writes_the_report_and_pictures_and_exits_143(tmp_path: Path) -> None:
    script = str(SCRIPTS / "trains_until_stopped.py")
    (tmp_path / "plain").mkdir()
    code, out, _ = _stopped_by_sigterm([sys.executable, script], tmp_path / "plain")
    assert code == -signal.SIGTERM and out == "ready\n"  # plain Python: killed, 128 + 15
    code, out, err = _stopped_by_sigterm([*GRAPHSCOPE, "render", script, "-o", "out"], tmp_path)
    assert code == 128 + signal.SIGTERM, err[-2000:]
    assert out.startswith("ready\n") or "\nready\n" in out
    assert f"the script was stopped by SIGTERM ({script}:" in out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "report.json",
        "trains_until_stopped.g1.svg",
    ]
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["exit_code"] == 143 and report["error"]["how"] == "terminated"
    assert report["backward_calls"] >= 3 and report["graphs"][0]["nodes"] > 0
    assert "Traceback" not in err  # plain Python prints nothing either


@pytest.mark.slow
def test_sigterm_under_check_json_still_prints_the_report(tmp_path: Path) -> None:
    script = str(SCRIPTS / "trains_until_stopped.py")
    code, out, err = _stopped_by_sigterm([*GRAPHSCOPE, "check", "--json", script], tmp_path)
    assert code == 143, err[-2000:]
    report = json.loads(out)
    assert report["error"]["how"] == "terminated" and report["backward_calls"] >= 3
    assert "ready\n" in err  # the script's output, on stderr


# -- usage errors: answered before the script runs, exit 2 (item 5) -----------------------------

MARKS = """\
import pathlib, sys
pathlib.Path(sys.argv[1]).write_text("ran")
import torch
w = torch.ones(2, requires_grad=True)
(w * 2).sum().backward()
"""


def _usage(tmp_path: Path, *options: str) -> tuple[int, str, Path]:
    """``graphscope render marks.py MARKER OPTIONS`` through click's runner: (exit status,
    output, the marker the script writes as soon as it starts)."""
    from click.testing import CliRunner

    from graphscope.cli import main

    script, marker = tmp_path / "marks.py", tmp_path / "ran.txt"
    script.write_text(MARKS)
    result = CliRunner().invoke(main, ["render", str(script), str(marker), *options])
    return result.exit_code, result.output, marker


def test_an_unwritable_output_folder_is_a_usage_error_before_the_script_runs(
    tmp_path: Path,
) -> None:
    code, output, marker = _usage(tmp_path, "-o", "/proc/nope")
    assert code == 2 and not marker.exists()
    assert "-o /proc/nope: cannot write there" in output
    assert "choose another output directory" in output
    (tmp_path / "file").write_text("")
    code, output, marker = _usage(tmp_path, "-o", str(tmp_path / "file"))
    assert code == 2 and "is a file" in output and not marker.exists()  # (click says so)


def test_engine_dot_without_dot_is_a_usage_error_before_the_script_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import graphscope.layout

    monkeypatch.setattr(graphscope.layout.shutil, "which", lambda name: None)
    code, output, marker = _usage(tmp_path, "--engine", "dot", "-o", str(tmp_path / "out"))
    assert code == 2 and not marker.exists()
    assert "--engine dot: the Graphviz 'dot' program is not on PATH" in output


def test_pdf_without_its_extra_is_a_usage_error_before_the_script_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "typst", None)  # import typst now fails
    out = tmp_path / "out"
    code, output, marker = _usage(
        tmp_path, "--engine", "embedded", "--format", "pdf", "-o", str(out)
    )
    assert code == 2 and not marker.exists()
    assert "pip install" in output  # how to install it


def test_no_such_script_is_answered_without_importing_torch(tmp_path: Path) -> None:
    """It took 3-4 s: torch was imported before the script was looked for."""
    for argv in (["check", "nosuch.py"], ["render", "nosuch.py", "-o", "out"]):
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "graphscope", *argv],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=ENV,
            timeout=120,
        )
        assert proc.returncode == 2
        assert proc.stdout == "" and "Error: no such script: nosuch.py" in proc.stderr
        imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines()}
        assert not {"torch", "networkx", "graphscope.runner"} & imported
        assert not (tmp_path / "out").exists()
