"""``Scope``: what a ``watch`` session saw, as plain data; findings are computed when asked."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graphscope import report
from graphscope.checks import attach, run_checks
from graphscope.memory import run_memory
from graphscope.memory.table import MemoryTable
from graphscope.model import AutogradGraph, Events, Finding, sorted_findings
from graphscope.suppress import Split, split

__all__ = ["Scope"]


@dataclass
class Scope:
    """What a ``watch`` session saw: the distinct graphs, the events, graphscope's own notes.

    Plain data only (no tensors). :attr:`findings` runs the checks over everything recorded up
    to the moment it is read, so reading it inside the ``with`` block and again after gives
    both answers.
    """

    captures: list[AutogradGraph] = field(default_factory=list)
    events: Events = field(default_factory=Events)
    script: str | None = None
    notes: list[str] = field(default_factory=list)  # graphscope's own problems, if any
    #: where ``watch(debug=True)`` stopped the program in pdb (file, line of the write)
    stopped_at: list[tuple[str | None, int | None]] = field(default_factory=list)
    #: the findings printed there (kept when the run made no finding of their kind: ``q``
    #: ended it before the backward call that would have)
    stop_findings: list[Finding] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        """Findings of every check over the captures and events recorded so far, but those a
        ``# graphscope: ignore[KIND]`` comment suppresses (:mod:`graphscope.suppress`)."""
        return self.checked().kept

    def checked(self) -> Split:
        """Findings of every check, split into those kept and those an inline comment
        suppresses (with the comments naming no finding kind)."""
        found = run_checks(self.captures, self.events)
        told = {f.kind for f in found}
        found += [f for f in self.stop_findings if f.kind not in told]
        return split(sorted_findings(found))

    def graphs(self, findings: list[Finding] | None = None) -> list[AutogradGraph]:
        """The captures with their findings attached (what render draws)."""
        found = self.findings if findings is None else findings
        return [attach(g, found) for g in self.captures]

    def report(self) -> str:
        """A short text report: calls, distinct graphs, findings."""
        return report.scope_text(self)

    def memory(self) -> MemoryTable:
        """What each distinct graph held saved for backward at its backward call (each
        storage once), its top lines and modules, and what checkpointing a module would free:
        a table in a notebook, text in a terminal (:mod:`graphscope.memory`)."""
        return MemoryTable(run_memory(self.captures), report.source_line)

    def to_dict(self, files: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The JSON report of DESIGN.md (``files``: graph id -> file written)."""
        return report.scope_dict(self, files)

    def to_json(self, files: Mapping[str, str] | None = None) -> str:
        return json.dumps(self.to_dict(files), indent=2)

    def __repr__(self) -> str:
        return report.scope_repr(self)
