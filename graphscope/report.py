"""The report: what a run showed, as text for a terminal and as the JSON of DESIGN.md.

One module formats every report graphscope prints or writes: ``Scope.report()``, the summary of
``graphscope render`` and ``check``, ``report.json``, the gallery's captions and the HTML page's
findings. Plain functions of plain data (a :class:`~graphscope.watcher.Scope` is read, never
changed; :class:`Scope` here says what is read of it); no torch.

Exit status (:attr:`Report.status`) is the larger of two numbers:

* ours: 1 when a finding kept by the :class:`Policy` (``--select``/``--ignore``) is at least as
  severe as ``fail_on`` (``warning`` by default: an error or a warning fails; ``error``: only
  errors; ``never``: findings never fail), else 0;
* the script's: the status ``python SCRIPT`` would have exited with: 0 when it ran to its end
  (or ``sys.exit(0)``/``sys.exit()``), its ``sys.exit(N)`` code, 1 for ``sys.exit("message")``
  or an uncaught exception, 130 when Ctrl-C (KeyboardInterrupt) stopped it.

A usage error (no such script, a bad option) is 2 and nothing runs. When SIGINT or SIGTERM stops
the drawing (after the script ran), the status is 130 or 143 and ``report.json`` is written all
the same, with ``"file": null`` for the graphs not drawn.
"""

from __future__ import annotations

import json
import linecache
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from graphscope._version import __version__
from graphscope.memory import RunMemory, run_memory
from graphscope.memory.text import memory_dict, memory_lines
from graphscope.model import (
    ERROR,
    FINDING_KINDS,
    INFO,
    WARNING,
    AutogradGraph,
    Events,
    Finding,
    ScriptError,
    ScriptExit,
    jsonable,
    location,
    plural,
    ranges,
    short_path,
)

if TYPE_CHECKING:
    from graphscope.suppress import BadKind, Split, Suppressed

__all__ = [
    "FAIL_ON",
    "Policy",
    "Report",
    "SCHEMA_VERSION",
    "finding_lines",
    "graph_caption",
    "outcome_lines",
    "scope_dict",
    "scope_repr",
    "scope_text",
]


class Scope(Protocol):
    """What a report reads of a :class:`graphscope.watcher.Scope` (described here, not
    imported: the watcher uses this module, so this module does not use the watcher)."""

    captures: list[AutogradGraph]
    events: Events
    script: str | None
    notes: list[str]

    @property
    def findings(self) -> list[Finding]: ...

    def checked(self) -> Split: ...

    def graphs(self, findings: list[Finding] | None = None) -> list[AutogradGraph]: ...

    def report(self) -> str: ...


#: version of the JSON report's layout (its ``schema`` field; ``report.schema.json`` describes it)
SCHEMA_VERSION = 1

#: ``--fail-on`` values: the least severe finding that makes the exit status 1
FAIL_ON = ("error", "warning", "info", "never")


@dataclass(frozen=True)
class Policy:
    """Which findings a report keeps and which ones fail it (``--select``, ``--ignore``,
    ``--fail-on``, or the same keys of ``[tool.graphscope]``).

    >>> Policy(select=("graph-freed",)).keeps("leaf-inplace")
    False
    >>> Policy(fail_on="bogus")
    Traceback (most recent call last):
    ...
    ValueError: fail-on must be one of error, warning, info, never (got 'bogus')
    """

    select: tuple[str, ...] = ()  # finding kinds to keep; empty: every kind
    ignore: tuple[str, ...] = ()  # finding kinds to drop
    fail_on: str = "warning"

    def __post_init__(self) -> None:
        if self.fail_on not in FAIL_ON:
            raise ValueError(f"fail-on must be one of {', '.join(FAIL_ON)} (got {self.fail_on!r})")
        for option, kinds in (("select", self.select), ("ignore", self.ignore)):
            unknown = [k for k in kinds if k not in FINDING_KINDS]
            if unknown:
                raise ValueError(
                    f"{option}: unknown finding kind {', '.join(map(repr, unknown))}; "
                    f"the kinds are {', '.join(FINDING_KINDS)}"
                )

    def keeps(self, kind: str) -> bool:
        """Whether findings of ``kind`` are reported."""
        return (not self.select or kind in self.select) and kind not in self.ignore

    def kept(self, findings: Iterable[Finding]) -> list[Finding]:
        return [f for f in findings if self.keeps(f.kind)]

    def fails(self, findings: Iterable[Finding]) -> bool:
        """Whether any of ``findings`` is at least as severe as ``fail_on``."""
        if self.fail_on == "never":
            return False
        worst = {"error": (ERROR,), "warning": (ERROR, WARNING), "info": (ERROR, WARNING, INFO)}
        return any(f.severity in worst[self.fail_on] for f in findings)


def finding_lines(findings: Sequence[Finding]) -> list[str]:
    """``findings: 2`` then one line per finding and the fix under it."""
    lines = [f"findings: {len(findings)}" if findings else "findings: none"]
    for f in findings:
        lines.append(f"  {f.severity}: {f.kind} at {location(f.file, f.line)}: {f.message}")
        if f.hint:
            lines.append(f"    fix: {f.hint}")
    return lines


def outcome_lines(
    findings: Sequence[Finding],
    notes: Sequence[str],
    error: ScriptError | None,
    ending: ScriptExit | None = None,
) -> list[str]:
    """The findings, graphscope's own notes and how the script ended, as report lines."""
    lines = finding_lines(findings)
    for note in notes:
        lines.append(f"graphscope: {note} (your program was not affected)")
    end = ending_line(ending) if ending is not None else None
    if end is not None:
        lines.append(end)
    elif error is not None:
        where = (
            ""
            if _says_where(error.message, error.line)
            else " " + (f"({location(error.file, error.line)})")
        )
        lines.append(f"the script raised {error.type}: {error.message}{where}")
    return lines


def ending_line(ending: ScriptExit) -> str | None:
    """``the script raised KeyError: 'x' (train.py:5)``, ``the script called sys.exit(3)``;
    None when it ran to its end or exited with status 0."""
    where = f" ({location(ending.file, ending.line)})" if ending.file else ""
    if _says_where(ending.message, ending.line):
        where = ""  # SyntaxError's own "(syn.py, line 2)" says it already
    if ending.how == "raised":
        text = f"{ending.type}: {ending.message}" if ending.message else str(ending.type)
        return f"the script raised {text}{where}"
    if ending.how == "interrupted":
        return (
            f"the script was interrupted (KeyboardInterrupt){where}: reporting what ran until then"
        )
    if ending.how == "terminated":
        return f"the script was stopped by SIGTERM{where}: reporting what ran until then"
    if ending.how == "quit":
        return (
            f"the script was stopped at the pdb prompt (Quitting debugger){where}: reporting "
            "what ran until then"
        )
    if ending.how == "sys.exit" and ending.status != 0:
        arg = ending.message if ending.stderr is None else repr(ending.message)
        return f"the script called sys.exit({arg}){where}: exit status {ending.status}"
    return None


def _says_where(message: str | None, line: int | None) -> bool:
    """Whether ``message`` ends with Python's own ``(file, line N)`` for ``line``.

    >>> _says_where("'(' was never closed (syn.py, line 2)", 2)
    True
    """
    m = re.search(r"\([^()]*, line (\d+)\)$", message or "")
    return m is not None and line is not None and int(m.group(1)) == line


def scope_text(scope: Scope, findings: Sequence[Finding] | None = None) -> str:
    """``Scope.report()``: calls, distinct graphs, findings."""
    found = scope.findings if findings is None else findings
    lines = [
        f"backward calls: {len(scope.events.backward)}, distinct graphs: {len(scope.captures)}"
    ]
    for g in scope.captures:
        lines.append(
            f"  {g.graph.get('id')}: {len(g)} nodes, {g.number_of_edges()} edges, "
            f"calls {ranges(g.graph.get('calls', []))}"
        )
    lines += memory_text(run_memory(scope.captures))
    return "\n".join(lines + outcome_lines(found, scope.notes, scope.events.error))


def memory_text(run: RunMemory | None) -> list[str]:
    """The memory table of a report (nothing when no graph saved anything)."""
    if run is None or run.peak is None or run.peak.saved_bytes == 0:
        return []
    return memory_lines(run, source_line)


def source_line(file: str, line: int) -> str | None:
    """The code of ``file``'s line ``line``, stripped (None when unreadable)."""
    try:
        return linecache.getline(file, line).strip() or None
    except Exception:
        return None


def scope_dict(
    scope: Scope,
    files: Mapping[str, str] | None = None,
    findings: Sequence[Finding] | None = None,
    *,
    ending: ScriptExit | None = None,
    status: int | None = None,
    memory: RunMemory | None = None,
) -> dict[str, Any]:
    """The JSON report of DESIGN.md (``files``: graph id -> file written; ``ending`` and
    ``status``: how a script run ended and graphscope's exit status, None under ``watch``;
    ``memory``: the run's memory figures when already computed).
    ``graphscope/report.schema.json`` is its JSON Schema."""
    found = scope.findings if findings is None else findings
    run = memory if memory is not None else run_memory(scope.captures)
    extra = {"memory": memory_dict(run)} if run is not None else {}
    return jsonable(  # type: ignore[no-any-return]
        {
            "schema": SCHEMA_VERSION,
            "graphscope": __version__,
            "script": scope.script,
            "backward_calls": len(scope.events.backward),
            "graphs": [
                {
                    "id": g.graph.get("id"),
                    "calls": list(g.graph.get("calls", [])),
                    "nodes": g.number_of_nodes(),
                    "edges": g.number_of_edges(),
                    "file": (files or {}).get(str(g.graph.get("id"))),
                }
                for g in scope.captures
            ],
            "findings": [f.to_dict() for f in found],
            "error": error_dict(scope.events.error, ending),
            "exit_code": None if ending is None else ending.status,
            "status": status,
            **extra,
        }
    )


def error_dict(error: ScriptError | None, ending: ScriptExit | None) -> dict[str, Any] | None:
    """The report's ``error``: how the script ended when that was not a plain finish (an
    exception, ``sys.exit`` with a non-zero status, Ctrl-C), else None."""
    if ending is None:
        if error is None:
            return None
        ending = ScriptExit("raised", 1, error.type, error.message, error.file, error.line)
    if ending.how == "finished" or (ending.how == "sys.exit" and ending.status == 0):
        return None
    return {
        "type": ending.type,
        "message": (ending.message or "")[:2000],
        "file": ending.file,
        "line": ending.line,
        "how": ending.how,
        "exit_code": ending.status,
        "traceback": ending.stderr if ending.how in ("raised", "interrupted") else None,
    }


def scope_repr(scope: Scope) -> str:
    """``<Scope of train.py: 3 backward calls, 1 distinct graph (g1: 9 nodes), 2 findings>``."""
    graphs = ", ".join(f"{g.graph.get('id')}: {len(g)} nodes" for g in scope.captures[:4])
    more = ", ..." if len(scope.captures) > 4 else ""
    of = f" of {short_path(scope.script)}" if scope.script else ""
    return (
        f"<Scope{of}: {plural(len(scope.events.backward), 'backward call')}, "
        f"{plural(len(scope.captures), 'distinct graph')}"
        + (f" ({graphs}{more})" if graphs else "")
        + f", {plural(len(scope.findings), 'finding')}>"
    )


def graph_caption(g: AutogradGraph) -> str:
    """``g1: 9 nodes, 12 edges; backward calls 1-3`` (the gallery's caption of a graph)."""
    calls = list(g.graph.get("calls", []))
    which = ("backward call " if len(calls) == 1 else "backward calls ") + ranges(calls)
    return f"`{g.graph.get('id')}`: {len(g)} nodes, {g.number_of_edges()} edges; {which}"


@dataclass
class Report:
    """A finished ``render`` or ``check`` of a script: what ran, how it ended, what was
    written, and the findings the :class:`Policy` keeps (computed once, when the report is
    made)."""

    scope: Scope
    ending: ScriptExit | None = None  # how the script ended (None: not a script run)
    policy: Policy = field(default_factory=Policy)
    files: dict[str, str] = field(default_factory=dict)  # graph id -> its main file
    written: list[str] = field(default_factory=list)  # every file written, report.json last
    engine: str | None = None  # the layout engine that ran
    #: ``(signal name, exit status)`` when SIGINT/SIGTERM stopped the drawing
    stopped: tuple[str, int] | None = None
    not_drawn: dict[str, str] = field(default_factory=dict)  # graph id -> the file it would be
    drawing: list[str] = field(default_factory=list)  # what the drawing had to change
    findings: list[Finding] = field(init=False)
    #: findings dropped by a ``# graphscope: ignore`` comment (that the policy would keep)
    suppressed: list[Suppressed] = field(init=False)
    bad_comments: list[BadKind] = field(init=False)  # ignore[...] naming no finding kind
    memory: RunMemory | None = field(init=False)  # what the graphs held for backward

    def __post_init__(self) -> None:
        checked = self.scope.checked()
        self.findings = self.policy.kept(checked.kept)
        self.suppressed = [s for s in checked.suppressed if self.policy.keeps(s.finding.kind)]
        self.bad_comments = checked.bad
        self.memory = run_memory(self.scope.captures)

    @property
    def script_status(self) -> int:
        """The exit status ``python SCRIPT`` would have given."""
        if self.ending is not None:
            return self.ending.status
        return 1 if self.scope.events.error is not None else 0

    @property
    def status(self) -> int:
        """graphscope's exit status: the larger of ours and the script's (module docstring)."""
        if self.stopped is not None:
            return self.stopped[1]
        return max(1 if self.policy.fails(self.findings) else 0, self.script_status)

    def summary(self, *, verbose: bool = False) -> str:
        """What ``graphscope render`` prints (``verbose``: also every backward call)."""
        scope = self.scope
        calls = len(scope.events.backward)
        lines = [
            f"graphscope: {plural(calls, 'backward call')}, "
            f"{plural(len(scope.captures), 'distinct graph')}"
            + (f", layout by {self.engine}" if self.engine else "")
        ]
        for g in scope.captures:
            n = len(g.graph.get("calls", []))
            lines.append(f"  {g.graph.get('id')}: {len(g)} nodes, stands for {n} call(s)")
        if verbose:
            lines.extend(call_lines(scope))
            lines.extend(self.suppressed_lines())
        if calls == 0:
            lines.append(
                "  no backward call ran, so there is no graph to draw: graphscope captures the "
                "graph at each backward call (or call graphscope.render(tensor, path) in the script)"
            )
        lines.extend(f"  wrote {p}" for p in self.written)
        lines.extend(f"  note: {n}" for n in self.drawing)
        lines.extend(memory_text(self.memory))
        lines.extend(self.outcome())
        return "\n".join(lines)

    def skipped(self) -> str | None:
        """When a signal stopped the drawing: which graphs it left out (None otherwise)."""
        if self.stopped is None:
            return None
        name, code = self.stopped
        left = ", ".join(f"{gid} ({path})" for gid, path in self.not_drawn.items())
        return (
            f"graphscope: {name} stopped the drawing; skipped {left or 'nothing'}; "
            f"report.json lists what was drawn (exit status {code})"
        )

    def outcome(self) -> list[str]:
        """The findings, graphscope's notes and how the script ended (what ``-q`` keeps)."""
        lines = outcome_lines(self.findings, self.scope.notes, self.scope.events.error, self.ending)
        return lines + [bad_comment_line(b) for b in self.bad_comments]

    def suppressed_lines(self) -> list[str]:
        """``-v``: how many findings inline comments suppressed, and where."""
        return suppressed_lines(self.suppressed)

    def text(self, *, verbose: bool = False) -> str:
        """What ``graphscope check`` prints (``verbose``: also every backward call)."""
        scope = self.scope
        lines = [
            f"backward calls: {len(scope.events.backward)}, distinct graphs: {len(scope.captures)}"
        ]
        for g in scope.captures:
            lines.append(
                f"  {g.graph.get('id')}: {len(g)} nodes, {g.number_of_edges()} edges, "
                f"calls {ranges(g.graph.get('calls', []))}"
            )
        if verbose:
            lines.extend(call_lines(scope))
            lines.extend(self.suppressed_lines())
        lines.extend(memory_text(self.memory))
        return "\n".join(lines + self.outcome())

    def to_dict(self) -> dict[str, Any]:
        """The JSON report (:func:`scope_dict`) of this run."""
        return scope_dict(
            self.scope,
            self.files,
            self.findings,
            ending=self.ending,
            status=self.status,
            memory=self.memory,
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def call_lines(scope: Scope) -> list[str]:
    """One line per backward call: ``  call 2: backward of loss at train.py:9 -> g1``."""
    lines = []
    for b in scope.events.backward:
        roots = ", ".join(b.roots) or "?"
        at = f" at {location(b.file, b.line)}" if b.file else ""
        graph = f" -> {b.graph}" if b.graph else " (not captured)"
        error = f" raised {b.error_type}" if b.error_type else ""
        lines.append(f"  call {b.index}: {b.api} of {roots}{at}{graph}{error}")
    return lines


def suppressed_lines(suppressed: Sequence[Suppressed]) -> list[str]:
    """``suppressed: 1 finding by # graphscope: ignore comments`` and one line each."""
    if not suppressed:
        return ["suppressed: none (no # graphscope: ignore comment dropped a finding)"]
    lines = [f"suppressed: {plural(len(suppressed), 'finding')} by # graphscope: ignore comments"]
    for s in suppressed:
        f = s.finding
        at = location(f.file, f.line) if f.file else "no line"
        by = location(s.file, s.line)
        lines.append(f"  {f.severity}: {f.kind} at {at}: ignored by the comment at {by}")
    return lines


def bad_comment_line(b: BadKind) -> str:
    """A ``# graphscope: ignore[...]`` naming no finding kind (it suppresses nothing)."""
    meant = f" (did you mean {' or '.join(map(repr, b.meant))}?)" if b.meant else ""
    return (
        f"graphscope: the comment at {location(b.file, b.line)} ignores {b.word!r}, which is no "
        f"finding kind{meant}; graphscope kinds lists them"
    )
