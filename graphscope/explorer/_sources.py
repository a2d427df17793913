"""The user's source lines around each op's and each finding's line, read at render time."""

from __future__ import annotations

import linecache
from collections.abc import Iterable, Iterator
from typing import Any

from graphscope.model import AutogradGraph, Finding

CONTEXT = 3  # lines shown above and below the selected one
MAX_LINE = 300  # characters kept of one source line
MAX_LINES = 5000  # source lines kept in all


def graph_findings(graph: AutogradGraph) -> tuple[Finding, ...]:
    """The findings attached to ``graph`` (the one place that knows where they are kept)."""
    return graph.findings


def collect_sources(graph: AutogradGraph, *, context: int = CONTEXT) -> dict[str, dict[int, str]]:
    """``{file: {line: text}}``: ``context`` lines around every ``file:line`` of ``graph``'s op
    nodes and findings (their related lines too). Files that cannot be read are left out."""
    wanted: dict[str, set[int]] = {}
    for file, line in _locations(graph):
        wanted.setdefault(file, set()).add(line)
    out: dict[str, dict[int, str]] = {}
    budget = MAX_LINES
    for file in sorted(wanted):
        lines = linecache.getlines(file)
        if not lines:
            continue
        keep = sorted(
            {k for c in wanted[file] for k in range(c - context, c + context + 1)}
            & set(range(1, len(lines) + 1))
        )[:budget]
        budget -= len(keep)
        out[file] = {k: lines[k - 1].rstrip("\r\n")[:MAX_LINE] for k in keep}
        if budget <= 0:
            break
    return out


def _locations(graph: AutogradGraph) -> Iterator[tuple[str, int]]:
    for _, d in graph.nodes(data=True):
        yield from _loc(d.get("file"), d.get("line"))
    for f in graph_findings(graph):
        yield from _loc(f.file, f.line)
        for r in f.related:
            yield from _loc(r.file, r.line)


def _loc(file: Any, line: Any) -> Iterable[tuple[str, int]]:
    if isinstance(file, str) and file and isinstance(line, int) and line > 0:
        return ((file, line),)
    return ()
