"""Every hint is code the user will paste: for each case of ``tests/fixes/`` (see
``tests/fixcases.py``), the broken script gets its finding (kind, severity, line, related
lines, the user's names, the fix's words) with torch's own message and exit status kept as
plain Python gives them, and the fixed script (the hint applied) runs cleanly under plain
Python and comes back with no finding at all from ``graphscope check``."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphscope.checks import CATALOGUE
from graphscope.checks.catalogue import patterns
from tests import fixcases
from tests.fixcases import Case, Proof

ERRORS_PAGE = fixcases.ROOT / "docs" / "errors.md"
_proofs: dict[str, Proof] = {}


def _proof(name: str) -> Proof:
    if name not in _proofs:
        _proofs[name] = fixcases.prove(fixcases.load(name))
    return _proofs[name]


def test_every_case_folder_is_complete() -> None:
    folders = sorted(p.name for p in fixcases.CASES.iterdir() if p.is_dir() and p.name[0] != "_")
    assert folders == fixcases.names(), "a folder of tests/fixes/ has no case.json"
    for c in fixcases.cases():
        assert c.broken.is_file() and c.fixed.is_file(), c.name
        assert c.broken.read_text() != c.fixed.read_text(), f"{c.name}: the fix changes nothing"
        lines = c.broken.read_text().splitlines()
        assert 1 <= c.line <= len(lines), f"{c.name}: line {c.line} is not in broken.py"
        assert c.severity in ("error", "warning", "info"), c.name
        if c.code is not None:
            assert c.code in c.fixed.read_text(), f"{c.name}: the hint's code is not in fixed.py"
            assert any(c.code in h for h in c.hint), f"{c.name}: list the code among the hints"


@pytest.mark.slow
@pytest.mark.parametrize("name", fixcases.names())
def test_the_broken_script_gets_its_finding(name: str) -> None:
    p = _proof(name)
    c: Case = p.case
    plain, gs = p.plain_broken, p.gs_broken
    if c.torch is not None:
        assert c.torch in plain.stderr, (
            f"plain Python did not print torch's message:\n{plain.stderr}"
        )
        assert c.torch in gs.stderr, "graphscope must keep torch's message as plain Python shows it"
    found = gs.findings(c.kind)
    assert len(found) == 1, (c.kind, gs.findings())  # one finding for the cause
    f = found[0]
    assert (f["severity"], Path(f["file"]).name, f["line"]) == (c.severity, "broken.py", c.line), f
    if c.related is not None:
        assert tuple(r["line"] for r in f["related"]) == c.related, f["related"]
    for text in c.message:
        assert text in f["message"], (text, f["message"])
    for text in c.hint:
        assert text in f["hint"], (text, f["hint"])
    serious = c.severity in ("error", "warning")
    assert gs.code == max(plain.code, 1 if serious else 0), (gs.code, plain.code)


@pytest.mark.slow
@pytest.mark.parametrize("name", fixcases.names())
def test_the_fixed_script_runs_and_comes_back_clean(name: str) -> None:
    p = _proof(name)
    c = p.case
    assert p.plain_fixed.code == 0, p.plain_fixed.stderr[-3000:]
    if c.torch is not None:
        assert c.torch not in p.plain_fixed.stderr
    assert p.gs_fixed.findings() == [], p.gs_fixed.findings()
    assert p.gs_fixed.code == 0, p.gs_fixed.stderr[-3000:]
    assert p.gs_fixed.report is not None and p.gs_fixed.report["error"] is None


def test_the_errors_page_is_current(update_golden: bool) -> None:
    text = fixcases.errors_page(patterns(CATALOGUE))
    if update_golden:
        ERRORS_PAGE.write_text(text)
    assert ERRORS_PAGE.read_text() == text, (
        "refresh with: pytest tests/test_fixes.py --update-golden"
    )
