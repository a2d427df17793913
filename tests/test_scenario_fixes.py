"""Every finding a bundled scenario shows is fixed by the code its hint names: the scenario gets
the finding its header lists, the hint's code (read from the finding, see
``tests/scenariofixes.py``) is valid Python in the scenario's own names, and the scenario with
that code pasted where the hint says runs cleanly under plain Python (exit 0, torch's error no
longer hit) and under ``graphscope check`` no longer reports the finding, nor any new warning or
error."""

from __future__ import annotations

import ast
import difflib

import pytest

from graphscope import scenarios
from tests import scenariofixes
from tests.scenariofixes import Proof

_proofs: dict[str, Proof] = {}


def _proof(name: str) -> Proof:
    if name not in _proofs:
        _proofs[name] = scenariofixes.prove(scenariofixes.load(name))
    return _proofs[name]


def test_every_scenario_finding_has_a_case() -> None:
    """The cases cover every (kind, line) of every scenario's header, each once."""
    listed = sorted((s.name, k, line) for s in scenarios.all_scenarios() for k, line in s.kinds)
    cases = sorted((c.scenario, c.kind, c.line) for c in scenariofixes.cases())
    assert cases == listed
    assert len(set(scenariofixes.names())) == len(scenariofixes.names())


def test_the_edits_name_lines_of_the_scenario() -> None:
    for c in scenariofixes.cases():
        n = len(c.path.read_text().splitlines())
        assert c.edits, c.name
        for e in c.edits:
            assert e.how in scenariofixes.HOWS, (c.name, e)
            assert 1 <= e.line <= n, (c.name, e)
            assert 0 <= e.finding < c.count, (c.name, e)
            assert (e.how == "substitute") == (e.old is not None), (c.name, e)


def test_patch_pastes_code_at_the_lines_it_names() -> None:
    source = "a = 1\nfor i in range(2):\n    b = a\n    c = b\n"
    hints = ["Write `b = a + i` or `d = 0`.", "Use `x`."]
    edits = (
        scenariofixes.Edit(3, "replace"),
        scenariofixes.Edit(3, "before", span=1),
        scenariofixes.Edit(4, "substitute", finding=1, old="b"),
        scenariofixes.Edit(1, "delete"),
    )
    assert scenariofixes.patch(source, edits, hints) == (
        "for i in range(2):\n    d = 0\n    b = a + i\n    c = x\n"
    )
    assert scenariofixes.line_map(4, edits) == {2: 1, 3: 3, 4: 4}
    assert scenariofixes.undefined_names("opt.step()", "optimizer = 1") == ["opt"]
    assert scenariofixes.undefined_names("print(len(x))", "import x") == []


@pytest.mark.slow
@pytest.mark.parametrize("name", scenariofixes.names())
def test_the_scenario_gets_its_finding(name: str) -> None:
    p = _proof(name)
    c = p.case
    scenario = scenarios.get(c.scenario)
    got = {(f["kind"], f["line"]) for f in p.broken.findings()}
    assert got == set(scenario.kinds), p.broken.findings()
    found = p.findings()
    assert len(found) == c.count, found
    assert {f["severity"] for f in found} == {c.severity}, found
    if c.torch is not None:  # the scenario shows torch's error (and catches it)
        assert c.torch in p.plain_broken.stdout + p.plain_broken.stderr


@pytest.mark.slow
@pytest.mark.parametrize("name", scenariofixes.params())
def test_the_hint_shows_valid_code_in_the_scenarios_names(name: str) -> None:
    p = _proof(name)
    source = p.case.path.read_text()
    for f in p.findings():
        spans = scenariofixes.code_spans(f["hint"])
        assert spans, f"the hint shows no code between backticks: {f['hint']}"
        for code in spans:
            try:
                ast.parse(code)
            except SyntaxError as err:
                raise AssertionError(f"the hint's code {code!r} is not Python: {err}") from None
            assert scenariofixes.undefined_names(code, source) == [], (code, f["hint"])


@pytest.mark.slow
@pytest.mark.parametrize("name", scenariofixes.params())
def test_the_scenario_with_the_hints_code_runs_clean(name: str) -> None:
    p = _proof(name)
    c = p.case
    assert p.patch_error is None, p.patch_error
    assert p.patched_source is not None and p.plain_fixed is not None and p.gs_fixed is not None
    source = c.path.read_text()
    # the patched script is the scenario with the hint's code at the edits' lines, nothing else
    hints = [f["hint"] for f in p.findings()]
    changed = [
        line
        for line in difflib.ndiff(source.splitlines(), p.patched_source.splitlines())
        if line[:1] in "+-"
    ]
    codes = {
        scenariofixes.code_spans(hints[e.finding])[e.span] for e in c.edits if e.how != "delete"
    }
    added = [line[2:].strip() for line in changed if line[0] == "+"]
    assert added and all(any(code in a for code in codes) for a in added), changed
    # it runs, and no longer hits torch's error
    assert p.plain_fixed.code == 0, p.plain_fixed.stderr[-3000:]
    if c.torch is not None:
        assert c.torch not in p.plain_fixed.stdout + p.plain_fixed.stderr
    # graphscope no longer reports the finding, nor any new warning or error
    assert p.gs_fixed.report is not None and p.gs_fixed.report["error"] is None
    assert p.gs_fixed.findings(c.kind) == [], p.gs_fixed.findings(c.kind)
    moved = scenariofixes.line_map(len(source.splitlines()), c.edits)
    before = {(f["kind"], moved.get(f["line"])) for f in p.broken.findings()}
    new = [
        f
        for f in p.gs_fixed.findings()
        if f["severity"] != "info" and (f["kind"], f["line"]) not in before
    ]
    assert new == [], new
    serious = [f for f in p.gs_fixed.findings() if f["severity"] != "info"]
    assert p.gs_fixed.code == (1 if serious else 0), (p.gs_fixed.code, serious)
