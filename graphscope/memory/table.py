"""``Scope.memory()``: the memory figures as a table a notebook shows (``_repr_html_``) and a
terminal prints (``repr``): per graph what it held, its top lines, modules and checkpoint
candidates, in human units. Every text is escaped for HTML."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from graphscope.memory import GraphMemory, RunMemory, fmt_bytes, percent
from graphscope.memory.text import Source, memory_dict, memory_lines
from graphscope.model import location, ranges, spelled

__all__ = ["MemoryTable"]

ROWS = 5  # rows of each ranking


@dataclass(frozen=True)
class MemoryTable:
    """What the graphs of a ``watch`` session held for backward (``run`` None: nothing)."""

    run: RunMemory | None
    source: Source | None = None

    @property
    def graphs(self) -> tuple[GraphMemory, ...]:
        return self.run.graphs if self.run is not None else ()

    @property
    def peak(self) -> GraphMemory | None:
        return self.run.peak if self.run is not None else None

    def to_dict(self) -> dict[str, Any]:
        """The ``memory`` section of the JSON report (empty graphs when nothing was saved)."""
        if self.run is None:
            return {"graphs": {}, "peak_saved_bytes": 0, "peak_graph": None}
        return memory_dict(self.run)

    def __repr__(self) -> str:
        if self.run is None:
            return "no saved tensors recorded (no backward call captured a graph)"
        return "\n".join(memory_lines(self.run, self.source, top=ROWS))

    def _repr_html_(self) -> str:
        if self.run is None:
            return "<p>no saved tensors recorded (no backward call captured a graph)</p>"
        parts = [_summary(self.run)]
        peak = self.run.peak
        if peak is not None:
            whole = peak.saved_bytes
            parts.append(
                _table(
                    f"top lines of {peak.graph}",
                    ("line", "code", "module", "bytes", "share"),
                    [
                        (
                            location(r.file, r.line) if r.file else "?",
                            _code(self.source, r.file, r.line) or ", ".join(r.ops[:2]),
                            spelled(r.module) if r.module else "",
                            fmt_bytes(r.bytes),
                            percent(r.bytes, whole),
                        )
                        for r in peak.by_line[:ROWS]
                    ],
                )
            )
            parts.append(
                _table(
                    f"top modules of {peak.graph} (their own ops)",
                    ("module", "bytes", "share"),
                    [
                        (
                            spelled(m.module) if m.module else "(outside any module)",
                            fmt_bytes(m.bytes),
                            percent(m.bytes, whole),
                        )
                        for m in peak.by_module[:ROWS]
                    ],
                )
            )
            parts.append(
                _table(
                    "checkpointing (torch.utils.checkpoint, use_reentrant=False) would free",
                    ("module", "frees", "share", "recomputes"),
                    [
                        (
                            spelled(c.module)
                            if len(c.members) == 1
                            else f"each of {spelled(c.module)} ({len(c.members)})",
                            fmt_bytes(c.frees_bytes),
                            percent(c.frees_bytes, whole),
                            f"{c.recompute_ops} ops",
                        )
                        for c in peak.checkpoint[:ROWS]
                    ],
                )
            )
        return '<div class="graphscope-memory">' + "".join(parts) + "</div>"


def _summary(run: RunMemory) -> str:
    rows = [
        (
            g.graph,
            ranges(list(g.calls)),
            fmt_bytes(g.saved_bytes),
            fmt_bytes(g.activation_bytes),
            fmt_bytes(g.param_bytes),
            fmt_bytes(g.input_bytes),
        )
        for g in run.graphs
    ]
    return _table(
        "saved for backward (each storage once, at the backward call)",
        ("graph", "calls", "held", "activations", "parameters", "inputs"),
        rows,
    )


def _table(title: str, head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    if not rows:
        return ""
    e = html.escape
    th = "".join(f"<th>{e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<h4>{e(title)}</h4><table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _code(source: Source | None, file: str | None, line: int | None) -> str | None:
    if source is None or not file or not line:
        return None
    return source(file, line)
