"""The bundled scenarios: small learner programs from the seed notes, each with what it should show.

Each scenario is a standalone script ``sNN_<slug>.py`` in this folder (run it with ``python``),
whose body is the code exactly as a learner would write it, preceded by a module docstring that
holds its metadata::

    \"\"\"Computational graph and leaves
    name: computational-graph
    row: 1
    seeds: 003
    kinds: nonleaf-grad-access@21
    nodes: w, x, a, b, y, MulBackward0
    explanation: One paragraph: what the learner should notice in the picture,
    which may continue over several lines (up to the end of the docstring).
    \"\"\"

- the first line is the title;
- ``name``: the scenario's name (the file's slug with ``-`` for ``_``);
- ``row``: the row of ``seeds/README.md`` it reproduces, empty for scenarios added to cover a
  finding kind;
- ``seeds``: the seed documents (``000`` .. ``004``) the code comes from, space-separated;
- ``kinds``: the findings graphscope's ``watch`` must report for this script, as ``kind@line``
  separated by spaces (empty: none). ``line`` counts from the top of the file, docstring
  included. Two findings of one kind on one line (``a.grad, b.grad`` read on one line) are listed
  once: the expectation is the *set* of ``(kind, line)`` pairs. Which line a finding carries:

  ====================== ====================================================================
  kind                   line
  ====================== ====================================================================
  grad-accumulation      the backward call that added to a gradient that was not reset
  leaf-inplace           the in-place write on the leaf
  saved-tensor-modified  the in-place write (the op that saved the tensor is ``related``)
  graph-freed            the backward call that went through the freed graph (the line that carries
                         a recurrent state from the previous batch, when that is the cause)
  nonleaf-grad-access    the line that reads ``.grad`` of the non-leaf
  nonscalar-backward     the backward call
  no-grad-param          the backward call that did not reach the parameter
  nonfinite-grad         the forward line that created the node where NaN/Inf first appears
  no-grad-fn             the backward call
  graph-kept-alive       the statement that accumulates (``total_loss += loss``)
  param-not-in-optimizer where the optimizer was built (else its first step)
  zeroed-before-step     the ``zero_grad()`` between the backward call and the step
  amp-overflow           the forward line of the op where the Inf/NaN starts (``scaler.step()``
                         is ``related``)
  eval-mode-training     the ``model.eval()`` call
  graph-grows            the line that carries the state from one batch to the next
  checkpoint-no-grad     the reentrant ``checkpoint(...)`` call whose inputs needed no grad
  ====================== ====================================================================

- ``nodes``: the node labels the explanation talks about, separated by commas; the picture of
  the scenario's first graph must hold each of them (a label is a node's first line: the
  tensor's name or the op's name);
- ``draw`` (optional): for a script that makes no backward call, the variable whose graph the
  gallery draws instead (traced after the script ran, see :func:`trace_drawn`);
- ``explanation``: the rest of the docstring, one paragraph for the docs gallery.

The expected standard output of each scenario is in ``expected/<name>.txt`` (checked by hand
against the values the notes print); ``tests/test_scenarios.py`` compares it byte for byte.
Set ``GRAPHSCOPE_UPDATE_EXPECTED=1`` when running that test to rewrite the files from a run, then
review the diff.
"""

from __future__ import annotations

import ast
import contextlib
import io
import runpy
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphscope.errors import UsageError
from graphscope.model import FINDING_KINDS, AutogradGraph

HERE = Path(__file__).resolve().parent
EXPECTED_DIR = HERE / "expected"
_KEYS = ("name", "row", "seeds", "kinds", "nodes", "draw", "explanation")


@dataclass(frozen=True)
class Scenario:
    """One bundled scenario: its metadata, its code and the stdout it must print."""

    name: str
    title: str
    row: int | None  # row of seeds/README.md, None for the finding-kind scenarios
    kinds: tuple[tuple[str, int], ...]  # expected findings: (kind, line in the file)
    explanation: str
    path: str  # absolute path of the script
    code: str  # the body after the docstring, verbatim
    output: str | None  # expected stdout (expected/<name>.txt), None when not written yet
    seeds: tuple[str, ...] = ()  # seed documents the code comes from ("000" .. "004")
    code_start: int = 1  # line of the file where ``code`` begins (kinds' lines are file lines)
    nodes: tuple[str, ...] = ()  # node labels the explanation talks about (in the first graph)
    draw: str | None = None  # variable drawn when the script makes no backward call

    @property
    def expected_path(self) -> Path:
        return EXPECTED_DIR / f"{self.name}.txt"

    @property
    def kind_names(self) -> frozenset[str]:
        return frozenset(k for k, _ in self.kinds)


def _parse_kinds(text: str, path: Path) -> tuple[tuple[str, int], ...]:
    kinds = []
    for item in text.split():
        kind, sep, line = item.partition("@")
        if not sep or not line.isdigit():
            raise ValueError(f"{path.name}: kinds must be kind@line (got {item!r})")
        if kind not in FINDING_KINDS:
            raise ValueError(
                f"{path.name}: unknown finding kind {kind!r}; expected one of {list(FINDING_KINDS)}"
            )
        kinds.append((kind, int(line)))
    return tuple(kinds)


def _parse_docstring(doc: str, path: Path) -> dict[str, str]:
    lines = doc.strip("\n").splitlines()
    if not lines:
        raise ValueError(f"{path.name}: empty docstring")
    fields = {"title": lines[0].strip()}
    rest = lines[1:]
    for i, line in enumerate(rest):
        key, sep, value = line.partition(":")
        key = key.strip()
        if not sep or key not in _KEYS:
            raise ValueError(f"{path.name}: expected one of {_KEYS} followed by ':' (got {line!r})")
        if key == "explanation":
            text = " ".join([value.strip(), *(r.strip() for r in rest[i + 1 :])])
            fields[key] = text.strip()
            break
        fields[key] = value.strip()
    missing = [k for k in ("name", "kinds", "explanation") if k not in fields]
    if missing:
        raise ValueError(f"{path.name}: docstring lacks {', '.join(missing)}")
    return fields


def load(path: str | Path) -> Scenario:
    """Read one scenario file (metadata from its docstring, expected output beside it)."""
    path = Path(path).resolve()
    source = path.read_text(encoding="utf-8")
    module = ast.parse(source, filename=str(path))
    first = module.body[0] if module.body else None
    if not (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        raise ValueError(f"{path.name}: a scenario starts with its metadata docstring")
    fields = _parse_docstring(first.value.value, path)
    end = first.end_lineno or first.lineno
    after = source.splitlines(keepends=True)[end:]
    skip = next((i for i, line in enumerate(after) if line.strip()), len(after))
    code = "".join(after[skip:])
    row = fields.get("row", "")
    name = fields["name"]
    expected = EXPECTED_DIR / f"{name}.txt"
    return Scenario(
        name=name,
        title=fields["title"],
        row=int(row) if row else None,
        kinds=_parse_kinds(fields["kinds"], path),
        explanation=fields["explanation"],
        path=str(path),
        code=code,
        output=expected.read_text(encoding="utf-8") if expected.exists() else None,
        seeds=tuple(fields.get("seeds", "").split()),
        code_start=end + skip + 1,
        nodes=tuple(n.strip() for n in fields.get("nodes", "").split(",") if n.strip()),
        draw=fields.get("draw") or None,
    )


def all_scenarios() -> list[Scenario]:
    """Every bundled scenario, ordered by file name (s01, s02, ...)."""
    return [load(p) for p in sorted(HERE.glob("s[0-9][0-9]_*.py"))]


def names() -> list[str]:
    return [s.name for s in all_scenarios()]


def get(name: str) -> Scenario:
    """The scenario called ``name``; a UsageError listing the names when there is none."""
    scenarios = all_scenarios()
    for s in scenarios:
        if s.name == name:
            return s
    raise UsageError(
        f"no scenario named {name!r}; choose one of: {', '.join(s.name for s in scenarios)}"
    )


def trace_drawn(scenario: Scenario) -> AutogradGraph | None:
    """The graph of the scenario's ``draw`` variable, traced after a plain run of the script
    (its tensors named after its global variables); None when it has no ``draw``.

    For the scripts that build a graph without calling backward (``grad-fn``,
    ``requires-grad``): ``watch`` captures graphs at backward calls, so there is none to show.
    """
    if scenario.draw is None:
        return None
    import torch

    from graphscope.tracer import trace

    namespace, _ = run_with_globals(scenario)
    root = namespace.get(scenario.draw)
    if not isinstance(root, torch.Tensor):
        raise ValueError(
            f"{scenario.name}: draw: {scenario.draw} must name a tensor of the script "
            f"(got {type(root).__name__})"
        )
    tensors = {
        k: v for k, v in namespace.items() if isinstance(v, torch.Tensor) and not k.startswith("_")
    }
    graph = trace(root, names=tensors)
    graph.graph.setdefault("id", "g1")
    graph.graph.setdefault("calls", [])
    return graph


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """Run torch on one thread inside the block (restored after): the scenarios' numbers, and
    the time they take on a small machine, do not depend on the number of cores."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_plain(scenario: Scenario) -> str:
    """Run the scenario's file as ``python FILE`` would, in this process; return its stdout.

    ``__name__`` is ``"__main__"`` and ``sys.argv`` is ``[FILE]`` while it runs; both are restored.
    Seeding is the scenario's own job.
    """
    return run_with_globals(scenario)[1]


def run_with_globals(scenario: Scenario) -> tuple[dict[str, Any], str]:
    """Like :func:`run_plain`, also returning the script's globals (for the plots)."""
    out = io.StringIO()
    argv = sys.argv
    sys.argv = [scenario.path]
    try:
        with contextlib.redirect_stdout(out):
            namespace = runpy.run_path(scenario.path, run_name="__main__")
    finally:
        sys.argv = argv
    return namespace, out.getvalue()


__all__ = [
    "EXPECTED_DIR",
    "Scenario",
    "all_scenarios",
    "get",
    "load",
    "names",
    "run_plain",
    "run_with_globals",
    "single_threaded",
    "trace_drawn",
]
