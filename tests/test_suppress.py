"""Inline suppression: ``# graphscope: ignore[KIND]`` on a finding's line or on one of its
related lines drops it (graphscope/suppress.py); ``-v`` says how many and where."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from graphscope.cli import main
from graphscope.model import Finding, Location, location
from graphscope.suppress import ALL, BadKind, ignored_kinds, split

SCRIPTS = Path(__file__).parent / "scripts"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("loss.backward()  # graphscope: ignore[grad-accumulation]", ({"grad-accumulation"}, ())),
        ("x = f(a)  # graphscope: ignore", (ALL, ())),
        (
            "x = 1  # noqa: E501  # graphscope:ignore[Graph-Freed, nope]",
            ({"graph-freed"}, ("nope",)),
        ),
        (")  # graphscope: ignore[leaf-inplace]", ({"leaf-inplace"}, ())),
        ("s = 'it''s'  # graphscope: ignore", (ALL, ())),
        ('s = "# graphscope: ignore"', None),
        ("s = 'a\\'# graphscope: ignore'", None),
        ('s = """# graphscope: ignore"""', None),
        ("loss.backward()  # a comment about graphscope", None),
        ("loss.backward()", None),
    ],
)
def test_which_kinds_a_line_ignores(line: str, expected: object) -> None:
    got = ignored_kinds(line)
    if expected is None:
        assert got is None
    else:
        kinds, bad = expected  # type: ignore[misc]
        assert got == (frozenset(kinds), bad)


def _f(kind: str, line: int, related: tuple[int, ...] = ()) -> Finding:
    return Finding(
        kind,
        "warning",
        f"{kind} message",
        "hint",
        file="train.py",
        line=line,
        related=tuple(Location("train.py", r) for r in related),
    )


def test_split_on_the_line_or_a_related_line() -> None:
    source = {
        3: "a = w + 2",
        4: "y = a * a  # graphscope: ignore[saved-tensor-modified]",
        5: "a.add_(1)",
        7: "loss.backward()  # graphscope: ignore[grad-accumulation, grad-acumulation]",
        8: "print(h.grad)  # graphscope: ignore",
    }

    def getline(file: str, line: int) -> str:
        assert file == "train.py"
        return source.get(line, "") + "\n"

    stale = _f("saved-tensor-modified", 5, related=(4,))
    acc = _f("grad-accumulation", 7)
    freed = _f("graph-freed", 7)  # another kind on the same line: kept
    nonleaf = _f("nonleaf-grad-access", 8)  # a bare ignore: every kind
    plain = _f("no-grad-param", 3)
    got = split([stale, acc, freed, nonleaf, plain], getline)
    assert got.kept == [freed, plain]
    assert [(s.finding, s.line) for s in got.suppressed] == [(stale, 4), (acc, 7), (nonleaf, 8)]
    assert got.bad == [BadKind("train.py", 7, "grad-acumulation", ("grad-accumulation",))]


def test_a_finding_without_a_line_is_kept() -> None:
    f = Finding("ranks-differ", "info", "m", "h")
    assert split([f], lambda file, line: "# graphscope: ignore").kept == [f]


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout


@pytest.mark.slow
def test_check_drops_the_suppressed_finding_and_v_says_where() -> None:
    script = str(SCRIPTS / "suppressed_inline.py")
    code, out = _run("check", script)
    assert code == 1  # the other finding (a warning) still fails the run
    assert "suppressed:" not in out
    assert "findings: 1\n  warning: nonleaf-grad-access at " in out
    assert "grad-accumulation" not in out

    code, out = _run("check", "-v", script)
    lines = out.splitlines()
    i = lines.index("suppressed: 1 finding by # graphscope: ignore comments")
    at = location(script, 7)
    assert lines[i + 1] == f"  info: grad-accumulation at {at}: ignored by the comment at {at}"
    assert lines.index("findings: 1") > i + 1  # after the suppressed ones (memory between)

    code, out = _run("check", "--json", script)
    report = json.loads(out)
    assert [(f["kind"], f["line"]) for f in report["findings"]] == [("nonleaf-grad-access", 10)]


@pytest.mark.slow
def test_a_comment_on_a_related_line_suppresses_and_a_misspelt_kind_is_reported() -> None:
    script = str(SCRIPTS / "suppressed_related.py")
    code, out = _run("check", "-v", script)
    assert code == 0  # the script caught torch's error; the finding is suppressed
    line6, line7 = location(script, 6), location(script, 7)
    assert (
        f"  error: saved-tensor-modified at {line7}: ignored by the comment at {line6}"
    ) in out.splitlines()
    assert "findings: none" in out
    assert (
        f"graphscope: the comment at {line6} ignores 'grad-acumulation', which is no finding "
        "kind (did you mean 'grad-accumulation'?); graphscope kinds lists them"
    ) in out.splitlines()


def test_watch_reads_the_comment_too() -> None:
    import torch

    import graphscope

    w = torch.tensor([1.0], requires_grad=True)
    with graphscope.watch() as scope:
        for _ in range(2):
            (w * 2).sum().backward()  # graphscope: ignore[grad-accumulation]
    assert scope.findings == []
    assert [s.finding.kind for s in scope.checked().suppressed] == ["grad-accumulation"]
    with graphscope.watch() as scope:
        for _ in range(2):
            (w * 2).sum().backward()
    assert [f.kind for f in scope.findings] == ["grad-accumulation"]
