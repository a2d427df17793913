"""The fix-proving harness for the bundled scenarios: each finding a scenario shows is fixed by
the code its own hint names, pasted into the scenario script itself.

A case of ``tests/fixcases.py`` stores a broken and a fixed script; a scenario case stores neither
(two copies of a scenario would drift from it). It says, in ``tests/scenario_fixes.json``, which
finding of which scenario it fixes and *where* the hint's code goes; the code itself is read from
the finding that ``graphscope check --json`` reports on the scenario (a span between backticks in
its hint), so the patched script is the scenario with exactly the hint's code pasted in::

    {
      "name": "inplace",                 # the case (and the scenario's ``name:``)
      "scenario": "inplace",
      "kind": "leaf-inplace", "severity": "error", "line": 34,   # as the scenario's header says
      "count": 1,                        # findings of this kind on this line (one per tensor)
      "torch": "a leaf Variable that requires grad",   # torch's words the scenario prints
                                         # (caught); the patched script must no longer hit them
      "edits": [                         # where the code goes (lines of the scenario file)
        {"line": 34, "how": "replace", "finding": 0, "span": 0}
      ],
      "xfail": null                      # or the hint's known bug: the proof must fail until
                                         # the check is fixed
    }

``how`` is ``replace`` (the line becomes the code, at the line's indentation), ``before`` /
``after`` (the code is a new line there, at the line's indentation), ``substitute`` (``old``, the
user's text on the line, becomes the code) or ``delete`` (the line goes: a statement the fix
moves). ``finding`` picks one of the case's findings in report order, ``span`` one of the code
spans of its hint. :func:`patch` applies the edits; :func:`prove` runs the scenario under
``graphscope check --json``, and the patched script under plain Python and under
``graphscope check --json``; ``tests/test_scenario_fixes.py`` asserts on them.
"""

from __future__ import annotations

import ast
import atexit
import builtins
import functools
import json
import re
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphscope import scenarios
from tests.fixcases import HERE, Run, run

SPEC = HERE / "scenario_fixes.json"
HOWS = ("replace", "before", "after", "substitute", "delete")
_SPAN = re.compile(r"`([^`]+)`")


@dataclass(frozen=True)
class Edit:
    line: int  # a line of the scenario file
    how: str  # one of HOWS
    finding: int = 0  # which of the case's findings gives the code (report order)
    span: int = 0  # which code span of that finding's hint
    old: str | None = None  # ``substitute``: the user's text on the line that the code replaces


@dataclass(frozen=True)
class ScenarioCase:
    name: str
    scenario: str
    kind: str
    severity: str
    line: int
    edits: tuple[Edit, ...]
    count: int = 1
    torch: str | None = None
    #: why the hint cannot be proven yet (the hint's bug, named): the proof is an expected
    #: failure (strict: it must fail) until the check is fixed and this key removed
    xfail: str | None = None
    note: str | None = None  # why the edits are these, where the scenario makes it a choice

    @property
    def path(self) -> Path:
        return Path(scenarios.get(self.scenario).path)

    @property
    def patched(self) -> Path:
        """Where the patched script is written for a run (a temporary folder)."""
        return _work() / f"{self.name}.py"


@functools.cache
def _work() -> Path:
    """A temporary folder for the patched scripts, removed when the test run ends."""
    work = Path(tempfile.mkdtemp(prefix="graphscope-scenario-fixes-"))
    atexit.register(shutil.rmtree, work, True)
    return work


def cases() -> list[ScenarioCase]:
    out = []
    for d in json.loads(SPEC.read_text()):
        edits = tuple(Edit(**e) for e in d.pop("edits"))
        out.append(ScenarioCase(edits=edits, **d))
    return out


def load(name: str) -> ScenarioCase:
    found = [c for c in cases() if c.name == name]
    if len(found) != 1:
        raise KeyError(f"{name!r} is not one case of {SPEC.name}")
    return found[0]


def names() -> list[str]:
    return [c.name for c in cases()]


def params() -> list[Any]:
    """The case names for ``pytest.mark.parametrize``, a case with ``xfail`` marked strictly."""
    import pytest

    return [
        pytest.param(c.name, marks=pytest.mark.xfail(reason=c.xfail, strict=True))
        if c.xfail
        else c.name
        for c in cases()
    ]


def code_spans(hint: str) -> list[str]:
    """The code a hint shows: its spans between backticks, in order."""
    return _SPAN.findall(hint)


def undefined_names(code: str, source: str) -> list[str]:
    """Names ``code`` reads that are neither builtins nor names of ``source`` (the user's
    script): a hint's ``optimizer`` when the script calls it ``opt``, ``model`` when it has
    ``net``. ``code`` must parse (a statement, or a ``with ...:`` line with its body)."""
    tree = ast.parse(code)
    known = {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name)}
    known |= {
        a
        for n in ast.walk(ast.parse(source))
        if isinstance(n, ast.alias)
        for a in [n.asname or n.name]
    }
    known |= set(dir(builtins))
    read = [n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)]
    return sorted({n for n in read if n not in known})


def patch(source: str, edits: tuple[Edit, ...], hints: list[str]) -> str:
    """``source`` with each edit's code (span ``span`` of hint ``finding``) pasted at its line;
    bottom-up, so that the lines the edits name stay the scenario's."""
    lines = source.splitlines(keepends=True)
    for e in edits:
        if e.how not in HOWS:
            raise ValueError(f"how must be one of {HOWS} (got {e.how!r})")
        if e.how == "delete" and any(o.how == "after" and o.line == e.line for o in edits):
            raise ValueError(f"line {e.line}: put the code before the next line, not after it")
    # on one line: rewrite it, then delete it, then insert (listed first ends up first)
    rank = {"before": 0, "after": 1, "delete": 2, "substitute": 3, "replace": 3}
    order = sorted(enumerate(edits), key=lambda ie: (ie[1].line, rank[ie[1].how], ie[0]))
    for _, e in reversed(order):
        i = e.line - 1
        target = lines[i]
        indent = target[: len(target) - len(target.lstrip())]
        if e.how == "delete":
            del lines[i]
            continue
        spans = code_spans(hints[e.finding])
        if e.span >= len(spans):
            raise ValueError(f"the hint shows no code span {e.span}: {hints[e.finding]!r}")
        code = spans[e.span]
        if e.how == "substitute":
            if e.old is None or target.count(e.old) != 1:
                raise ValueError(f"line {e.line} must hold {e.old!r} once: {target!r}")
            lines[i] = target.replace(e.old, code)
        elif e.how == "replace":
            lines[i] = indent + code + "\n"
        else:
            lines.insert(i if e.how == "before" else i + 1, indent + code + "\n")
    return "".join(lines)


def line_map(n_lines: int, edits: tuple[Edit, ...]) -> dict[int, int]:
    """Where each line of the scenario (1-based) is in the patched script (deleted: absent)."""
    shift: dict[int, int] = {}
    for e in edits:
        if e.how in ("before", "after"):
            at = e.line if e.how == "before" else e.line + 1
            shift[at] = shift.get(at, 0) + 1
        elif e.how == "delete":
            shift[e.line + 1] = shift.get(e.line + 1, 0) - 1
    deleted = {e.line for e in edits if e.how == "delete"}
    out, offset = {}, 0
    for line in range(1, n_lines + 1):
        offset += shift.get(line, 0)
        if line not in deleted:
            out[line] = line + offset
    return out


@dataclass
class Proof:
    case: ScenarioCase
    broken: Run  # the scenario under graphscope check --json
    plain_broken: Run  # the scenario under plain Python
    patched_source: str | None  # None when the hints do not show the code the edits paste
    plain_fixed: Run | None
    gs_fixed: Run | None
    patch_error: str | None = None

    def findings(self) -> list[dict[str, Any]]:
        """The case's findings on the scenario: its kind on its line, in report order."""
        c = self.case
        return [f for f in self.broken.findings(c.kind) if f["line"] == c.line]


_broken: dict[str, tuple[Run, Run]] = {}


def _scenario_runs(case: ScenarioCase, pool: ThreadPoolExecutor) -> tuple[Run, Run]:
    """The scenario under graphscope and under plain Python (shared by its cases)."""
    if case.scenario not in _broken:
        path = case.path
        gs = pool.submit(run, path, graphscope=True, cwd=path.parent)
        plain = pool.submit(run, path, graphscope=False, cwd=path.parent)
        _broken[case.scenario] = (gs.result(), plain.result())
    return _broken[case.scenario]


def prove(case: ScenarioCase) -> Proof:
    """Run the scenario, patch it with the hints of its findings, run the patched script; two
    programs at a time (one thread each: the machine has two cores)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        broken, plain_broken = _scenario_runs(case, pool)
        proof = Proof(case, broken, plain_broken, None, None, None)
        hints = [f["hint"] for f in proof.findings()]
        if len(hints) != case.count:
            proof.patch_error = f"{len(hints)} findings of {case.kind} at line {case.line}"
            return proof
        try:
            proof.patched_source = patch(case.path.read_text(), case.edits, hints)
        except ValueError as err:
            proof.patch_error = str(err)
            return proof
        case.patched.write_text(proof.patched_source)
        cwd = case.path.parent
        plain = pool.submit(run, case.patched, graphscope=False, cwd=cwd)
        gs = pool.submit(run, case.patched, graphscope=True, cwd=cwd)
        proof.plain_fixed, proof.gs_fixed = plain.result(), gs.result()
    return proof
