"""The report: what a run showed, as text for a terminal and as the JSON of DESIGN.md.

One module formats every report graphscope prints or writes: ``Scope.report()``, the summary of
``graphscope render`` and ``check``, ``report.json``, the gallery's captions and the HTML page's
findings. Plain functions of plain data (a :class:`~graphscope.watcher.Scope` is read, never
changed); no torch.

Exit status (:attr:`Report.status`): 0 when nothing is an error or a warning, 1 when a finding
is (or the script raised), and the script's own ``sys.exit`` status when it is larger.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from graphscope._version import __version__
from graphscope.model import (
    ERROR,
    WARNING,
    AutogradGraph,
    Finding,
    ScriptError,
    jsonable,
    plural,
    ranges,
    short_path,
)

if TYPE_CHECKING:
    from graphscope.watcher import Scope

__all__ = [
    "Report",
    "finding_lines",
    "graph_caption",
    "outcome_lines",
    "scope_dict",
    "scope_repr",
    "scope_text",
]


def finding_lines(findings: Sequence[Finding]) -> list[str]:
    """``findings: 2`` then one line per finding and the fix under it."""
    lines = [f"findings: {len(findings)}" if findings else "findings: none"]
    for f in findings:
        lines.append(f"  {f.severity}: {f.kind} at {short_path(f.file)}:{f.line}: {f.message}")
        if f.hint:
            lines.append(f"    fix: {f.hint}")
    return lines


def outcome_lines(
    findings: Sequence[Finding], notes: Sequence[str], error: ScriptError | None
) -> list[str]:
    """The findings, graphscope's own notes and the script's error, as report lines."""
    lines = finding_lines(findings)
    for note in notes:
        lines.append(f"graphscope: {note} (your program was not affected)")
    if error is not None:
        lines.append(
            f"the script raised {error.type}: {error.message} "
            f"({short_path(error.file)}:{error.line})"
        )
    return lines


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
    return "\n".join(lines + outcome_lines(found, scope.notes, scope.events.error))


def scope_dict(
    scope: Scope,
    files: Mapping[str, str] | None = None,
    findings: Sequence[Finding] | None = None,
) -> dict[str, Any]:
    """The JSON report of DESIGN.md (``files``: graph id -> file written)."""
    found = scope.findings if findings is None else findings
    err = scope.events.error
    return jsonable(  # type: ignore[no-any-return]
        {
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
            "error": None
            if err is None
            else {"type": err.type, "message": err.message, "file": err.file, "line": err.line},
        }
    )


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
    """A finished ``render`` or ``check`` of a script: what ran, what was written, and the
    findings (computed once, when the report is made)."""

    scope: Scope
    exit_code: int | str | None = None  # the script's own sys.exit() value
    files: dict[str, str] = field(default_factory=dict)  # graph id -> its main file
    written: list[str] = field(default_factory=list)  # every file written, report.json last
    engine: str | None = None  # the layout engine that ran
    drawing: list[str] = field(
        default_factory=list
    )  # what the drawing had to change (slow layouts)
    findings: list[Finding] = field(init=False)

    def __post_init__(self) -> None:
        self.findings = self.scope.findings

    @property
    def status(self) -> int:
        """The exit status (see the module docstring)."""
        bad = self.scope.events.error is not None or any(
            f.severity in (ERROR, WARNING) for f in self.findings
        )
        ours = 1 if bad else 0
        code = self.exit_code
        theirs = code if isinstance(code, int) else (1 if code is not None else 0)
        return max(ours, theirs)

    def summary(self) -> str:
        """What ``graphscope render`` prints."""
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
        if calls == 0:
            lines.append(
                "  no backward call ran, so there is no graph to draw: graphscope captures the "
                "graph at each backward call (or call graphscope.render(tensor, path) in the script)"
            )
        lines.extend(f"  wrote {p}" for p in self.written)
        lines.extend(f"  note: {n}" for n in self.drawing)
        lines.extend(outcome_lines(self.findings, scope.notes, scope.events.error))
        return "\n".join(lines)

    def text(self) -> str:
        """What ``graphscope check`` prints."""
        return scope_text(self.scope, self.findings)

    def to_dict(self) -> dict[str, Any]:
        return scope_dict(self.scope, self.files, self.findings)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)
