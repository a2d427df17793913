"""The fix-proving harness: a folder of cases, each a script that goes wrong, the finding
graphscope must report on it, and the same script with the fix the finding's hint names.

One case is a folder ``tests/fixes/<name>/`` holding

- ``broken.py``: a small training script that hits one error, warning or silent pitfall;
- ``fixed.py``: the same script with the hint's fix applied (and nothing else changed);
- ``case.json``: what must happen::

    {
      "title": "backward() on a tensor with several elements",   # one line, for docs/errors.md
      "torch": "grad can be implicitly created only for scalar outputs",
                                 # torch's own words, as plain Python prints them (stderr),
                                 # or null for a pitfall torch says nothing about
      "kind": "nonscalar-backward", "severity": "error",
      "line": 5,                 # the finding's line in broken.py: where the fix goes
      "related": [],             # the related lines, in order (omit the key to not check them)
      "message": ["y.backward()"],   # texts the finding's message must hold (the user's names)
      "hint": ["y.sum().backward()"],# texts the finding's hint must hold
      "code": "y.sum().backward()",  # the hint's code, pasted into fixed.py (or null)
      "args": []                 # the script's arguments (optional)
    }

:func:`prove` runs the four programs (``broken.py`` and ``fixed.py``, each under plain Python
and under ``graphscope check --json``) and returns what each did; ``tests/test_fixes.py``
asserts on them. The catalogue of torch's errors (``docs/errors.md``) is written from the same
folder by :func:`errors_page`.
"""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
CASES = HERE / "fixes"
ROOT = HERE.parent


@dataclass(frozen=True)
class Case:
    name: str
    title: str
    torch: str | None
    kind: str
    severity: str
    line: int
    message: tuple[str, ...]
    hint: tuple[str, ...]
    code: str | None
    related: tuple[int, ...] | None = None
    args: tuple[str, ...] = ()

    @property
    def folder(self) -> Path:
        return CASES / self.name

    @property
    def broken(self) -> Path:
        return self.folder / "broken.py"

    @property
    def fixed(self) -> Path:
        return self.folder / "fixed.py"


def load(name: str) -> Case:
    d: dict[str, Any] = json.loads((CASES / name / "case.json").read_text())
    related = d.get("related")
    return Case(
        name=name,
        title=d["title"],
        torch=d.get("torch"),
        kind=d["kind"],
        severity=d["severity"],
        line=int(d["line"]),
        message=tuple(d.get("message", ())),
        hint=tuple(d.get("hint", ())),
        code=d.get("code"),
        related=None if related is None else tuple(related),
        args=tuple(d.get("args", ())),
    )


def names() -> list[str]:
    return sorted(p.parent.name for p in CASES.glob("*/case.json"))


def cases() -> list[Case]:
    return [load(n) for n in names()]


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    report: dict[str, Any] | None = None  # graphscope's JSON report (graphscope runs only)

    def findings(self, kind: str | None = None) -> list[dict[str, Any]]:
        assert self.report is not None
        return [f for f in self.report["findings"] if kind is None or f["kind"] == kind]


@dataclass
class Proof:
    case: Case
    plain_broken: Run
    gs_broken: Run
    plain_fixed: Run
    gs_fixed: Run
    extra: dict[str, Any] = field(default_factory=dict)


def run(script: Path, args: tuple[str, ...] = (), *, graphscope: bool, cwd: Path) -> Run:
    """``script`` under plain Python, or under ``graphscope check --json``, in ``cwd``."""
    cmd = [sys.executable]
    if graphscope:
        cmd += ["-m", "graphscope", "check", "--json"]
    cmd += [str(script), *args]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONHASHSEED="0")
    env.pop("FORCE_COLOR", None)
    res = subprocess.run(
        cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=600, check=False
    )
    report = None
    if graphscope:
        try:
            report = json.loads(res.stdout)
        except json.JSONDecodeError as err:
            raise AssertionError(
                f"graphscope check --json printed no JSON report on stdout for {script}:\n"
                f"stdout: {res.stdout[-2000:]}\nstderr: {res.stderr[-4000:]}"
            ) from err
    return Run(res.returncode, res.stdout, res.stderr, report)


def prove(case: Case) -> Proof:
    """The four runs of a case, two at a time (one thread each: the machine has two cores)."""
    jobs = [
        (case.broken, False),
        (case.broken, True),
        (case.fixed, False),
        (case.fixed, True),
    ]
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(run, s, case.args, graphscope=gs, cwd=case.folder) for s, gs in jobs]
        runs = [f.result() for f in futures]
    return Proof(case, *runs)


def fix_diff(case: Case) -> str:
    """The fix as a unified diff from ``broken.py`` to ``fixed.py``."""
    a = case.broken.read_text().splitlines(keepends=True)
    b = case.fixed.read_text().splitlines(keepends=True)
    return "".join(difflib.unified_diff(a, b, "broken.py", "fixed.py", n=1))


def errors_page(catalogue: list[tuple[str, str]] | None = None) -> str:
    """``docs/errors.md``: every case whose error or warning torch prints, with torch's
    message, the finding kind, the example and the fix; ``catalogue`` (pattern, kind) pairs
    add the messages graphscope recognises, for the index."""
    rows = [c for c in cases() if c.torch]
    out = [
        "# torch's autograd errors, explained",
        "",
        "<!-- generated by tests/test_fixes.py from tests/fixes/*; refresh with "
        "`pytest tests/test_fixes.py --update-golden` -->",
        "",
        "Each entry is a message torch prints (as torch 2.13 words it), the finding "
        "`graphscope check` reports for it, a minimal script that hits it, and the fix the "
        "finding's hint names. A test runs every script under plain Python and under "
        "graphscope, applies the fix, and checks that the fixed script runs and comes back "
        "clean.",
        "",
        "| torch says | finding | example |",
        "|---|---|---|",
    ]
    for c in rows:
        msg = c.torch.replace("|", "\\|") if c.torch else ""
        out.append(f"| `{msg}` | `{c.kind}` | [{c.name}](#{c.name}) |")
    for c in rows:
        out += [
            "",
            f"## {c.name}",
            "",
            f"{c.title}. torch says:",
            "",
            "```text",
            c.torch or "",
            "```",
            "",
            f"graphscope reports `{c.kind}` ({c.severity}) at line {c.line}.",
            "",
            "```python",
            c.broken.read_text().rstrip("\n"),
            "```",
            "",
            "The fix:",
            "",
            "```diff",
            fix_diff(c).rstrip("\n"),
            "```",
        ]
    if catalogue:
        out += [
            "",
            "## Every message graphscope recognises",
            "",
            "| pattern | finding |",
            "|---|---|",
        ]
        out += ["| `" + p.replace("|", "\\|") + f"` | `{k}` |" for p, k in catalogue]
    return "\n".join(out) + "\n"
