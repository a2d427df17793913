"""The finding kinds explained: one entry per kind (graphscope/model/kinds/<kind>.md), the
``graphscope kinds`` table, ``graphscope explain KIND``, "did you mean", docs/kinds.md.

Adding a kind to ``FINDING_KINDS``? Write its entry (layout: :mod:`graphscope.model.explain`),
then ``pytest tests/test_kinds.py --update-golden`` rewrites docs/kinds.md.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner

from graphscope.cli import main
from graphscope.model import FINDING_KINDS, SEVERITIES
from graphscope.model.explain import (
    SECTIONS,
    close_kinds,
    explain_text,
    kind_doc,
    kind_docs,
    kinds_page,
)

ROOT = Path(__file__).resolve().parent.parent
ENTRIES = ROOT / "graphscope" / "model" / "kinds"
KINDS_PAGE = ROOT / "docs" / "kinds.md"


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_every_kind_has_an_entry_and_every_entry_is_a_kind() -> None:
    files = {p.stem for p in ENTRIES.glob("*.md")}
    missing = sorted(set(FINDING_KINDS) - files)
    assert not missing, (
        f"finding kinds without an entry: {missing}; write graphscope/model/kinds/<kind>.md "
        "(layout: graphscope/model/explain.py's docstring)"
    )
    assert sorted(files - set(FINDING_KINDS)) == []


@pytest.mark.parametrize("kind", list(FINDING_KINDS))
def test_each_entry_has_its_four_parts(kind: str) -> None:
    d = kind_doc(kind)
    assert d.severities and set(d.severities) <= set(SEVERITIES), d.severities
    assert len(d.meaning) > 80, "what it means: a paragraph for a newcomer"
    text = (ENTRIES / f"{kind}.md").read_text(encoding="utf-8")
    headings = [line[3:] for line in text.splitlines() if line.startswith("## ")]
    assert headings == list(SECTIONS)
    assert d.fix and d.not_a_finding
    tree = ast.parse(d.example)  # a whole script
    assert any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in tree.body)


def test_the_table_lists_every_kind_with_its_severity() -> None:
    code, out, _ = _run("kinds")
    assert code == 0
    rows = out.splitlines()
    assert rows[0].split() == ["kind", "severity", "what", "it", "means"]
    by_kind = {r.split()[0]: r for r in rows[1 : 1 + len(FINDING_KINDS)]}
    assert list(by_kind) == list(FINDING_KINDS)
    assert by_kind["grad-accumulation"].split()[1:3] == ["warning,", "info"]
    assert by_kind["leaf-inplace"].split()[1] == "error"
    assert by_kind["graph-freed"].endswith(FINDING_KINDS["graph-freed"])


def test_explain_prints_the_entry() -> None:
    code, out, _ = _run("explain", "grad-accumulation")
    assert code == 0
    assert out == explain_text("grad-accumulation")
    lines = out.splitlines()
    assert lines[0] == "grad-accumulation (warning or info)"
    assert lines[1] == FINDING_KINDS["grad-accumulation"]
    assert [line for line in lines if line.startswith("## ")] == [f"## {s}" for s in SECTIONS]
    assert "    opt.zero_grad()" in lines  # the fix's code
    assert "micro-batches" in out  # what is not a finding


def test_explain_a_misspelt_kind_says_which_one_was_meant() -> None:
    result = CliRunner().invoke(main, ["explain", "grad_acumulation"])
    assert result.exit_code == 2
    assert "no finding kind 'grad_acumulation' (did you mean 'grad-accumulation'?)" in (
        result.output
    )
    result = CliRunner().invoke(main, ["explain", "zzz"])
    assert result.exit_code == 2 and "did you mean" not in result.output
    assert "graphscope kinds lists them" in result.output


def test_a_misspelt_kind_in_select_says_which_one_was_meant() -> None:
    result = CliRunner().invoke(main, ["check", "--select", "leafinplace", "x.py"])
    assert result.exit_code == 2
    assert "'leafinplace' (did you mean 'leaf-inplace'" in result.output  # first, of the close ones


@pytest.mark.parametrize(
    ("word", "meant"),
    [
        ("grad_accumulation", ["grad-accumulation"]),
        ("Graph-Freed", ["graph-freed"]),
        ("nonleaf-grad", ["nonleaf-grad-access"]),
        ("accumulation", ["grad-accumulation"]),
        ("xyz", []),
    ],
)
def test_close_kinds(word: str, meant: list[str]) -> None:
    assert close_kinds(word)[: len(meant) or None] == meant


def test_the_docs_page_is_current(update_golden: bool) -> None:
    text = kinds_page()
    if update_golden:
        KINDS_PAGE.write_text(text, encoding="utf-8")
    assert KINDS_PAGE.read_text(encoding="utf-8") == text, (
        "docs/kinds.md is stale: pytest tests/test_kinds.py --update-golden (or graphscope docs "
        "build -o docs/)"
    )
    assert [line[3:] for line in text.splitlines() if line.startswith("## ")] == list(FINDING_KINDS)


def _check_example(kind: str, tmp: Path) -> tuple[str, list[str], str]:
    script = tmp / f"{kind}.py"
    script.write_text(kind_doc(kind).example + "\n", encoding="utf-8")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "graphscope", "check", "--json", str(script)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp,
        timeout=120,
    )
    try:
        # a finding of this kind reports a severity its entry declares (``kinds`` shows them)
        found = [
            f["kind"] if f["kind"] != kind or f["severity"] in kind_doc(kind).severities
            else f"{f['kind']} with severity {f['severity']}"
            for f in json.loads(proc.stdout)["findings"]
        ]  # fmt: skip
    except (ValueError, KeyError):
        found = []
    return kind, found, proc.stderr[-2000:]


@pytest.mark.slow
def test_every_example_gets_its_kind(tmp_path: Path) -> None:
    """Each entry's example, run under ``graphscope check --json``, reports that kind, with a
    severity the entry declares."""
    runnable = [d.kind for d in kind_docs() if d.alone is None and d.example]
    assert len(runnable) >= len(FINDING_KINDS) - 2
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda k: _check_example(k, tmp_path), runnable))
    wrong = {kind: (found, err) for kind, found, err in results if kind not in found}
    assert wrong == {}
