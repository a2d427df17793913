"""The merged report of a torchrun job: pure functions over the ranks' report dicts.

:func:`rank_report` makes a rank's handshake record (``OUT/rank<N>/rank.json``): its JSON
report (the one of DESIGN.md, also in ``OUT/rank<N>/report.json``) plus what the merge
compares: a ``rank`` block (who, which run, exit status, graphscope's notes) and, per graph, a
``structure`` key (a hash of :meth:`AutogradGraph.structure_key`, equal for identical graphs),
an ``outline`` (:func:`graphscope.checks.ranks_differ.outline`) and the ``site`` of its first
backward call. :func:`merge` makes the job's ``OUT/report.json`` from those; :func:`summary` is
what rank 0 prints and :func:`pointer` the one line every other rank prints.

The merged report is a report of the shipped schema (``report.schema.json``) with the optional
torchrun fields::

    {"schema": 1, "graphscope": "0.1.0", "script": "train.py", "backward_calls": 6,
     "graphs": [{"id": "g1", "calls": [1, 2, 3], "nodes": 17, "edges": 16,
                 "file": "out/rank0/train.g1.svg", "structure": "9f2c...", "ranks": [0, 1],
                 "members": [{"rank": 0, "graph": "g1", "calls": [1, 2, 3], "file": ...}, ...]}],
     "findings": [{...one finding..., "graph": "g1", "ranks": [0, 1]}],
     "error": {...the first rank's..., "ranks": [0, 1]} or null,
     "exit_code": 1, "status": 1,
     "world_size": 2,
     "ranks": [{"rank": 0, "backward_calls": 3, "graphs": 1, "status": 1, "exit_code": 1,
                "report": "out/rank0/report.json", "error": {...} or null, "notes": []}, ...],
     "missing": [{"rank": 1, "reason": "..."}]}

Graph ids are the merged ones (``g1`` ... in order of first appearance, rank 0 first); a
graph's ``calls`` and ``file`` are its first rank's, ``members`` names every rank's own graph id,
calls and file. A finding is kept once per cause across ranks (same kind, line and message)
with the ranks that hit it; ``ranks-differ`` findings are made here.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from typing import Any

from graphscope.checks import ranks_differ
from graphscope.distributed.env import RankInfo
from graphscope.model import (
    ERROR,
    INFO,
    WARNING,
    AutogradGraph,
    BackwardCall,
    Finding,
    location,
    plural,
    ranges,
    short_path,
)
from graphscope.report import Policy

__all__ = ["rank_report", "merge", "merged_status", "summary", "pointer"]

_DDP_KINDS = ("ddp-unused-param", "ddp-param-ready-twice")
_ORDER = {ERROR: 0, WARNING: 1, INFO: 2}

Report = Mapping[str, Any]


def rank_report(
    report: Report,
    graphs: Sequence[AutogradGraph],
    calls: Sequence[BackwardCall],
    info: RankInfo,
    *,
    status: int,
    notes: Sequence[str] = (),
    path: str | None = None,
) -> dict[str, Any]:
    """``report`` (one rank's JSON report) with the rank block and what the merge compares."""
    sites = {c.index: [c.file, c.line] for c in calls}
    by_id = {str(g.graph.get("id")): g for g in graphs}
    out = dict(report)
    out["rank"] = {**info.to_dict(), "status": status, "notes": list(notes), "report": path}
    out["graphs"] = []
    for entry in report.get("graphs", []):
        entry = dict(entry)
        g = by_id.get(str(entry.get("id")))
        if g is not None:
            entry["structure"] = structure_hash(g)
            entry["outline"] = ranks_differ.outline(g)
            first = (entry.get("calls") or [None])[0]
            entry["site"] = sites.get(first, [None, None]) if first is not None else [None, None]
        out["graphs"].append(entry)
    return out


def structure_hash(graph: AutogradGraph) -> str:
    """A short stable hash of the graph's structure key (equal for identical graphs)."""
    return hashlib.sha256(repr(graph.structure_key()).encode("utf-8")).hexdigest()[:16]


def merge(
    reports: Mapping[int, Report],
    world_size: int,
    missing: Mapping[int, str] | None = None,
    policy: Policy | None = None,
) -> dict[str, Any]:
    """The job's report from the ranks' records (see the module docstring); ``policy`` (the
    ranks' ``--select``/``--ignore``/``--fail-on``) also applies to the cross-rank findings."""
    policy = policy or Policy()
    ranks = sorted(reports)
    first = reports[ranks[0]] if ranks else {}
    graphs, ids = _merge_graphs(reports)
    entries = [_rank_entry(r, reports[r]) for r in ranks]
    codes = [e["exit_code"] for e in entries if isinstance(e["exit_code"], int)]
    merged: dict[str, Any] = {
        "schema": first.get("schema", 1),
        "graphscope": first.get("graphscope"),
        "script": first.get("script"),
        "backward_calls": sum(int(reports[r].get("backward_calls") or 0) for r in ranks),
        "graphs": graphs,
        "findings": _merge_findings(reports, ids, policy),
        "error": _merge_errors(reports),
        "exit_code": max(codes) if codes else None,
        "status": 0,
        "world_size": world_size,
        "ranks": entries,
        "missing": [{"rank": r, "reason": why} for r, why in sorted((missing or {}).items())],
    }
    merged["status"] = merged_status(merged, policy)
    return merged


def merged_status(merged: Report, policy: Policy | None = None) -> int:
    """Exit status of the job: the largest rank status; at least 1 when a rank is missing or a
    merged finding fails the policy (``--fail-on``, warning by default)."""
    policy = policy or Policy()
    worst = max([int(r.get("status") or 0) for r in merged.get("ranks", [])] or [0])
    found = [
        Finding(str(f.get("kind")), f.get("severity", INFO), "", "")
        for f in merged.get("findings", [])
    ]
    bad = bool(merged.get("missing")) or policy.fails(found)
    return max(worst, 1 if bad else 0)


def _rank_entry(rank: int, report: Report) -> dict[str, Any]:
    block = report.get("rank") or {}
    return {
        "rank": rank,
        "backward_calls": int(report.get("backward_calls") or 0),
        "graphs": len(report.get("graphs") or []),
        "status": int(block.get("status") or 0),
        "exit_code": report.get("exit_code"),
        "report": block.get("report"),
        "error": report.get("error"),
        "notes": list(block.get("notes") or []),
    }


def _merge_graphs(
    reports: Mapping[int, Report],
) -> tuple[list[dict[str, Any]], dict[tuple[int, str], str]]:
    """Distinct graphs across ranks (identical ones once) and ``(rank, graph id) -> merged id``."""
    merged: dict[str, dict[str, Any]] = {}
    ids: dict[tuple[int, str], str] = {}
    for r in sorted(reports):
        for g in reports[r].get("graphs") or []:
            key = str(g.get("structure") or f"rank{r}:{g.get('id')}")
            if key not in merged:
                merged[key] = {
                    "id": f"g{len(merged) + 1}",
                    "calls": g.get("calls") or [],
                    "nodes": g.get("nodes"),
                    "edges": g.get("edges"),
                    "file": g.get("file"),
                    "structure": g.get("structure"),
                    "ranks": [],
                    "members": [],
                }
            m = merged[key]
            if r not in m["ranks"]:
                m["ranks"].append(r)
            member = {"rank": r, "graph": g.get("id"), "calls": g.get("calls") or []}
            m["members"].append({**member, "file": g.get("file")})
            ids[(r, str(g.get("id")))] = m["id"]
    return list(merged.values()), ids


def _merge_findings(
    reports: Mapping[int, Report], ids: Mapping[tuple[int, str], str], policy: Policy
) -> list[dict[str, Any]]:
    """One finding per cause across ranks, with the ranks; then the cross-rank ones."""
    kept: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in sorted(reports):
        for f in reports[r].get("findings") or []:
            key = (f.get("kind"), f.get("file"), f.get("line"), f.get("message"))
            if key not in kept:
                gid = f.get("graph")
                kept[key] = {**f, "graph": ids.get((r, str(gid))) if gid else None, "ranks": []}
            kept[key]["ranks"].append(r)
    found = list(kept.values())
    ddp_failed = any(f.get("kind") in _DDP_KINDS for f in found)
    outlines = {r: [g for g in reports[r].get("graphs") or [] if "outline" in g] for r in reports}
    for finding, ranks in ranks_differ.across_ranks(outlines, ddp_failed=ddp_failed):
        if policy.keeps(finding.kind):
            found.append({**finding.to_dict(), "ranks": ranks})
    return sorted(found, key=_finding_order)


def _finding_order(f: Mapping[str, Any]) -> tuple[int, str, int]:
    return (
        _ORDER.get(str(f.get("severity")), 3),
        str(f.get("file") or ""),
        int(f.get("line") or 0),
    )


def _merge_errors(reports: Mapping[int, Report]) -> dict[str, Any] | None:
    """The first rank's script error, with every rank that raised the same one."""
    found: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in sorted(reports):
        err = reports[r].get("error")
        if isinstance(err, dict):
            head = str(err.get("message") or "").splitlines()[:1]
            key = (err.get("type"), tuple(head), err.get("file"), err.get("line"))
            found.setdefault(key, {**err, "ranks": []})["ranks"].append(r)
    return next(iter(found.values()), None)


# -- text ---------------------------------------------------------------------------------------


def summary(merged: Report, *, engine: str | None = None, written: str | None = None) -> str:
    """What rank 0 prints: calls per rank, distinct graphs and the ranks each stands for,
    findings with their ranks, missing ranks, the ranks' errors."""
    ranks = merged.get("ranks", [])
    per_rank = ", ".join(f"rank {r['rank']}: {r['backward_calls']}" for r in ranks)
    graphs = merged.get("graphs", [])
    lines = [
        f"graphscope: {plural(int(merged.get('world_size') or 0), 'rank')}, "
        f"{plural(int(merged.get('backward_calls') or 0), 'backward call')} ({per_rank}), "
        f"{plural(len(graphs), 'distinct graph')}" + (f", layout by {engine}" if engine else "")
    ]
    for g in graphs:
        lines.append(
            f"  {g['id']}: {g.get('nodes')} nodes, stands for {_stands_for(g)}: "
            f"{short_path(g.get('file'))}"
        )
    if not merged.get("backward_calls"):
        lines.append(
            "  no backward call ran on any rank, so there is no graph to draw: graphscope "
            "captures the graph at each backward call"
        )
    folders = sorted({_folder(r.get("report")) for r in ranks if r.get("report")})
    if folders:
        lines.append(f"  each rank's files and report: {', '.join(folders)}")
    if written:
        lines.append(f"  wrote {short_path(written)}")
    lines.extend(_finding_lines(merged.get("findings", [])))
    lines.extend(_tail_lines(merged))
    return "\n".join(lines)


def pointer(report: Report, merged_path: str) -> str:
    """The one line a rank other than 0 prints."""
    block = report.get("rank") or {}
    calls = int(report.get("backward_calls") or 0)
    found = len(report.get("findings") or [])
    where = _folder(block.get("report")) if block.get("report") else "its folder"
    return (
        f"graphscope: rank {block.get('rank')} of {block.get('world_size')}: "
        f"{plural(calls, 'backward call')}, {plural(len(report.get('graphs') or []), 'distinct graph')}, "
        f"{plural(found, 'finding')}, wrote {where}; rank 0 prints the merged summary "
        f"({short_path(merged_path)})"
    )


def _stands_for(g: Report) -> str:
    members = g.get("members", [])
    calls = {tuple(m.get("calls") or []) for m in members}
    if len(calls) == 1:
        only = list(next(iter(calls)))
        each = " on each" if len(members) > 1 else ""
        return f"{_who(g.get('ranks', []))} (calls {ranges(only)}{each})"
    return ", ".join(
        f"rank {m['rank']} (calls {ranges(list(m.get('calls') or []))})" for m in members
    )


def _finding_lines(findings: Sequence[Report]) -> list[str]:
    lines = [f"findings: {len(findings)}" if findings else "findings: none"]
    for f in findings:
        lines.append(
            f"  {f.get('severity')}: {f.get('kind')} at {location(f.get('file'), f.get('line'))}"
            f" ({_who(f.get('ranks', []))}): {f.get('message')}"
        )
        if f.get("hint"):
            lines.append(f"    fix: {f.get('hint')}")
    return lines


def _tail_lines(merged: Report) -> list[str]:
    lines = [
        f"rank {m['rank']} is missing from this report: {m['reason']}"
        for m in merged.get("missing", [])
    ]
    errors: dict[tuple[Any, ...], list[int]] = {}
    texts: dict[tuple[Any, ...], str] = {}
    for r in merged.get("ranks", []):
        for note in r.get("notes") or []:
            lines.append(f"graphscope: rank {r['rank']}: {note} (your program was not affected)")
        err = r.get("error")
        if isinstance(err, dict):
            head = (str(err.get("message") or "").splitlines() or [""])[0]
            head = head if len(head) <= 200 else head[:197] + "..."
            key = (err.get("type"), head, err.get("file"), err.get("line"))
            errors.setdefault(key, []).append(r["rank"])
            texts[key] = f"{err.get('type')}: {head} ({location(err.get('file'), err.get('line'))})"
    for key, rs in errors.items():
        lines.append(f"{_who(rs)} raised {texts[key]}")
    return lines


def _who(ranks: Sequence[int]) -> str:
    ranks = sorted(ranks)
    if not ranks:
        return "no rank"
    return f"rank {ranks[0]}" if len(ranks) == 1 else "ranks " + ", ".join(map(str, ranks))


def _folder(report_path: Any) -> str:
    """``out/rank1/`` for ``out/rank1/report.json``."""
    return short_path(os.path.dirname(str(report_path)) or ".") + "/"
