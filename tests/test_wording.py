"""Messages a newcomer reads: no ``file:None``, no place said twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from graphscope.cli import main
from graphscope.model import ScriptExit, location
from graphscope.report import ending_line


def test_a_location_without_a_line_is_the_file_alone() -> None:
    assert location("bin.py", None) == "bin.py"
    assert location("bin.py", 3) == "bin.py:3"


def test_a_syntax_error_says_its_place_once() -> None:
    ending = ScriptExit(
        "raised", 1, "SyntaxError", "'(' was never closed (syn.py, line 2)", "syn.py", 2
    )
    assert (
        ending_line(ending)
        == "the script raised SyntaxError: '(' was never closed (syn.py, line 2)"
    )
    other = ScriptExit("raised", 1, "KeyError", "'x'", "train.py", 5)
    assert ending_line(other) == "the script raised KeyError: 'x' (train.py:5)"
    no_line = ScriptExit("raised", 1, "KeyError", "'x'", "bin.py", None)
    assert ending_line(no_line) == "the script raised KeyError: 'x' (bin.py)"


@pytest.mark.slow
def test_check_on_a_script_with_a_syntax_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("syn.py").write_text("x = 1\ny = (\n")
    result = CliRunner().invoke(main, ["check", "syn.py"])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1] == (
        "the script raised SyntaxError: '(' was never closed (syn.py, line 2)"
    )


def test_no_message_says_file_colon_none() -> None:
    from graphscope.distributed.merge import _finding_lines
    from graphscope.model import Location

    assert str(Location("bin.py", None)) == "bin.py"
    assert str(Location("bin.py", None, "saved here")) == "bin.py (saved here)"
    lines = _finding_lines(
        [
            {
                "severity": "error",
                "kind": "ranks-differ",
                "file": "bin.py",
                "line": None,
                "ranks": [1],
                "message": "m",
                "hint": "",
            }
        ]  # fmt: skip
    )
    assert lines[1].startswith("  error: ranks-differ at bin.py (rank 1")
    assert not any("None" in line for line in lines)
