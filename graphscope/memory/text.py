"""The memory figures as the report shows them: a short table in human units, and the
``memory`` section of the JSON report (DESIGN.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphscope.memory import GraphMemory, RunMemory, fmt_bytes, percent
from graphscope.model import location, ranges, spelled

__all__ = ["memory_dict", "memory_lines"]

#: the rows of each ranking in the text report
TOP = 3
_CODE_WIDTH = 48
_STEPS = 8  # graphs listed in the growth line (first and last halves)

Source = Callable[[str, int], "str | None"]  # (file, line) -> the line's code, stripped


def memory_dict(run: RunMemory, nodes: bool = False) -> dict[str, Any]:
    """The report's ``memory`` section; ``nodes``: each row also names its op node (the
    explorer opens it)."""
    peak = run.peak
    return {
        "graphs": {g.graph: _graph_dict(g, nodes) for g in run.graphs},
        "peak_saved_bytes": peak.saved_bytes if peak else 0,
        "peak_graph": peak.graph if peak else None,
    }


def _graph_dict(g: GraphMemory, nodes: bool) -> dict[str, Any]:
    def node(n: str) -> dict[str, str]:
        return {"node": n} if nodes else {}

    return {
        "saved_bytes": g.saved_bytes,
        "activation_bytes": g.activation_bytes,
        "param_bytes": g.param_bytes,
        "input_bytes": g.input_bytes,
        "by_line": [
            {
                "file": r.file,
                "line": r.line,
                "bytes": r.bytes,
                "module": r.module,
                "ops": list(r.ops),
                "names": list(r.names),
                **node(r.node),
            }
            for r in g.by_line
        ],
        "by_module": [{"module": r.module, "bytes": r.bytes, **node(r.node)} for r in g.by_module],
        "checkpoint": [
            {
                "module": c.module,
                "frees_bytes": c.frees_bytes,
                "recompute_ops": c.recompute_ops,
                "modules": list(c.members),
                **node(c.node),
            }
            for c in g.checkpoint
        ],
    }


def memory_lines(run: RunMemory, source: Source | None = None, top: int = TOP) -> list[str]:
    """The text report's memory table: per graph (the peak's in full, the others in one
    line), its top lines, modules and checkpoint candidates; then the growth over the run."""
    peak = run.peak
    if peak is None:
        return []
    lines = ["memory saved for backward (each storage once, at the backward call):"]
    for g in run.graphs:
        lines.append(f"  {g.graph} (calls {ranges(list(g.calls))}): {_held(g)}")
    g = peak
    if len(run.graphs) > 1:
        first = f", first at backward call {g.calls[0]}" if g.calls else ""
        lines.append(f"  peak: {g.graph}{first}, held the most ({fmt_bytes(g.saved_bytes)})")
        steps = [f"call {m.calls[0]} {fmt_bytes(m.saved_bytes)}" for m in run.graphs if m.calls]
        if len(steps) > _STEPS:
            steps = [*steps[: _STEPS // 2], "...", *steps[-(_STEPS // 2) :]]
        lines.append("  across calls: " + " -> ".join(steps))
        if _grows(run):
            lines.append(
                "  it grew from graph to graph: a graph kept alive or growing across "
                "iterations (see the findings)"
            )
    whole = g.saved_bytes
    if g.by_line:
        lines.append(f"  top lines of {g.graph}:")
        for r in g.by_line[:top]:
            lines.append(
                f"    {_line_text(r.file, r.line, r.ops, r.module, source)}: "
                f"{fmt_bytes(r.bytes)}, {percent(r.bytes, whole)} of what backward holds"
            )
    mods = [r for r in g.by_module if r.module is not None]
    if mods:
        lines.append(f"  top modules of {g.graph}:")
        for m in mods[:top]:
            name = spelled(m.module or "")
            lines.append(f"    {name}: {fmt_bytes(m.bytes)}, {percent(m.bytes, whole)}")
    if g.checkpoint:
        lines.append("  checkpointing (torch.utils.checkpoint, use_reentrant=False) would free:")
        for c in g.checkpoint[:top]:
            name = spelled(c.module)
            what = name if len(c.members) == 1 else f"each of {name} ({len(c.members)})"
            lines.append(
                f"    {what}: {fmt_bytes(c.frees_bytes)} ({percent(c.frees_bytes, whole)}), "
                f"recomputing {c.recompute_ops} ops in backward"
            )
    return lines


def _held(g: GraphMemory) -> str:
    parts = [f"activations {fmt_bytes(g.activation_bytes)}"]
    if g.param_bytes:
        parts.append(f"parameters {fmt_bytes(g.param_bytes)}")
    if g.input_bytes:
        parts.append(f"inputs {fmt_bytes(g.input_bytes)}")
    return f"{fmt_bytes(g.saved_bytes)} ({', '.join(parts)})"


def _grows(run: RunMemory) -> bool:
    sizes = [g.saved_bytes for g in run.graphs]
    return len(sizes) >= 3 and all(b > a for a, b in zip(sizes, sizes[1:], strict=False))


def _line_text(
    file: str | None,
    line: int | None,
    ops: tuple[str, ...],
    module: str | None,
    source: Source | None,
) -> str:
    """``train.py:42 (`att = scores.softmax(-1)`, in blocks[3].attn)``: names as the user writes them."""
    where = location(file, line) if file else "(no source line)"
    code = source(file, line) if source is not None and file and line else None
    if code and len(code) > _CODE_WIDTH:
        code = code[: _CODE_WIDTH - 1] + "…"
    what = f"`{code}`" if code else ", ".join(ops[:2])
    inside = f", in {spelled(module)}" if module else ""
    return f"{where} ({what}{inside})"
