"""Every finding kind, reproduced the way users hit it (tests/scripts/pitfall_*.py), reported by
``graphscope check --json`` with the right kind, severity, line and the user's names.

Each script's first line says what it must report: ``# expect: KIND@LINE SEVERITY name=NAME``
(or ``# expect: nothing`` for a script with no error or warning).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from graphscope.cli import main
from graphscope.model import FINDING_KINDS

SCRIPTS = Path(__file__).parent / "scripts"
PITFALLS = sorted(SCRIPTS.glob("pitfall_*.py"))
EXPECT = re.compile(
    r"# expect: (?P<kind>[a-z-]+)@(?P<line>\d+) (?P<severity>\w+) name=(?P<name>\S+)"
)


def _check(script: Path) -> tuple[int, dict]:  # type: ignore[type-arg]
    result = CliRunner().invoke(main, ["check", str(script), "--json"], catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout)


def test_every_finding_kind_has_a_pitfall_script() -> None:
    kinds = {EXPECT.match(p.read_text().splitlines()[0])["kind"] for p in PITFALLS}  # type: ignore[index]
    # ranks-differ needs two ranks: tests/test_distributed.py runs it under torchrun
    assert kinds == set(FINDING_KINDS) - {"ranks-differ"}


@pytest.mark.parametrize("script", PITFALLS, ids=[p.stem for p in PITFALLS])
def test_check_json_reports_the_pitfall_at_the_users_line(script: Path) -> None:
    m = EXPECT.match(script.read_text().splitlines()[0])
    assert m, f"{script.name}: first line must be '# expect: kind@line severity name=...'"
    code, report = _check(script)
    serious = m["severity"] != "info" or report["error"] is not None
    assert code == (1 if serious else 0)  # an error or a warning (or the script raised)
    ours = [f for f in report["findings"] if f["file"] and Path(f["file"]).name == script.name]
    assert {f["kind"] for f in ours} == {m["kind"]}, ours  # exactly that kind
    hit = [f for f in ours if m["name"] in f["message"]]
    assert hit, [f["message"] for f in ours]
    f = hit[0]
    assert (f["line"], f["severity"]) == (int(m["line"]), m["severity"])
    assert (
        f["hint"]
        and "AccumulateGrad" not in f["message"]
        and not re.search(r"\bn\d+\b", f["message"])
    )


def test_the_original_error_is_kept_in_the_report() -> None:
    _, report = _check(SCRIPTS / "pitfall_graph_freed.py")
    assert report["error"]["type"] == "RuntimeError"
    assert report["error"]["message"].startswith(
        "Trying to backward through the graph a second time"
    )
    assert report["error"]["line"] == 8


def test_a_clean_training_loop_reports_no_error_or_warning() -> None:
    code, report = _check(SCRIPTS / "clean_training_loop.py")
    assert code == 0
    assert [f["severity"] for f in report["findings"]] in (
        [],
        ["info"],
    )  # retain_graph's 5 -> 10 is info
    assert report["error"] is None and report["backward_calls"] == 7


def test_render_overlays_the_finding_on_the_graph(tmp_path: Path) -> None:
    from tests.graphs import svg_nodes

    result = CliRunner().invoke(
        main,
        [
            "render",
            str(SCRIPTS / "pitfall_saved_tensor_modified.py"),
            "-o",
            str(tmp_path),
            "--engine",
            "embedded",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 1
    lines = {
        t
        for texts in svg_nodes(tmp_path / "pitfall_saved_tensor_modified.g1.svg").values()
        for t in texts
    }
    assert "saved h: v0, now v1 (stale)" in lines
    assert "(!) saved v0, now v1 ← line 8" in lines


def test_a_freed_graph_is_drawn_freed_with_the_finding(tmp_path: Path) -> None:
    from tests.graphs import svg_nodes

    result = CliRunner().invoke(
        main,
        [
            "render",
            str(SCRIPTS / "pitfall_graph_freed.py"),
            "-o",
            str(tmp_path),
            "--engine",
            "embedded",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 1
    nodes = svg_nodes(tmp_path / "pitfall_graph_freed.g1.svg")
    mul = next(lines for lines in nodes.values() if lines[0] == "MulBackward0")
    assert "saved tensors freed by backward" in mul
    assert any(t.startswith("(!) ") for lines in nodes.values() for t in lines)  # the badge
