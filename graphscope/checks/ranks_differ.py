"""ranks-differ: ranks built different autograd graphs at the same backward call.

Under ``torchrun`` every rank runs the same script; with ``DistributedDataParallel`` each rank
must produce the same parameters' gradients at every step. When one rank takes a branch the
other does not (``if rank == 0: loss = loss + aux(h)``, or a branch on the rank's own data),
DDP waits for a gradient that rank never produces: that rank raises DDP's "Expected to have
finished reduction" at its next forward and the others hang or lose their connection.

One rank's run alone cannot show it, so :func:`check` finds nothing; the merge of the ranks'
reports (:mod:`graphscope.distributed`) calls :func:`across_ranks` on each rank's graph
outlines (:func:`outline`: ops with their lines and modules, parameters reached or not; shapes
are left out, as an uneven last batch is no bug). The ranks are grouped by what they built; the
largest group (the one with the lowest rank on a tie) is the reference, and each other group
gets one finding: at the first backward call where it differs, which parameters only one side
reached and which ops (at which lines) only one side ran. Severity: ``warning`` when DDP failed
on some rank, else ``info`` (a rank-dependent graph is legitimate without DDP, or with
``find_unused_parameters=True``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from graphscope.model import OP, ROLE_PARAM, TENSOR, AutogradGraph, Events, Finding, spelled

KIND = "ranks-differ"

Outline = dict[str, Any]  # {"ops": [[name, file, line, module], ...], "reached": [...], ...}


def check(graph: AutogradGraph, events: Events) -> Iterator[Finding]:
    """Nothing: one rank's graph is compared with the others' in :func:`across_ranks`."""
    return iter(())


def outline(graph: AutogradGraph) -> Outline:
    """What a graph does, without values or shapes: its distinct ops (name, file, line, module)
    and the names of the parameters its backward reached and did not reach. JSON-ready."""
    ops: set[tuple[str, str, int, str]] = set()
    reached: set[str] = set()
    unreached: set[str] = set()
    for _, d in graph.nodes(data=True):
        if d.get("kind") == OP:
            ops.add(
                (str(d.get("name")), d.get("file") or "", d.get("line") or 0, d.get("module") or "")
            )
        elif d.get("kind") == TENSOR and d.get("role") == ROLE_PARAM:
            (reached if d.get("reached", True) else unreached).add(str(d.get("name")))
    return {
        "ops": [list(o) for o in sorted(ops)],
        "reached": sorted(reached),
        "unreached": sorted(unreached),
    }


def across_ranks(
    ranks: Mapping[int, Sequence[Mapping[str, Any]]], *, ddp_failed: bool = False
) -> Iterator[tuple[Finding, list[int]]]:
    """One finding (and the ranks it is about) per group of ranks whose graphs differ from the
    reference group's. ``ranks[r]`` is rank ``r``'s graphs: dicts with ``calls`` (the backward
    calls each stood for), ``outline`` (:func:`outline`) and ``site`` (``[file, line]`` of its
    first backward call)."""
    by_call = {r: _by_call(graphs) for r, graphs in ranks.items() if graphs}
    if len(by_call) < 2:
        return
    common = sorted(set.intersection(*(set(m) for m in by_call.values())))
    if not common:
        return
    groups: dict[str, list[int]] = {}
    for r in sorted(by_call):
        sig = json.dumps([by_call[r][c]["outline"] for c in common], sort_keys=True)
        groups.setdefault(sig, []).append(r)
    if len(groups) < 2:
        return
    ordered = sorted(groups.values(), key=lambda rs: (-len(rs), rs[0]))
    ref = ordered[0]
    for group in ordered[1:]:
        call = next(
            c for c in common if by_call[group[0]][c]["outline"] != by_call[ref[0]][c]["outline"]
        )
        yield _finding(ref, group, call, by_call[ref[0]][call], by_call[group[0]][call], ddp_failed)


def _by_call(graphs: Sequence[Mapping[str, Any]]) -> dict[int, Mapping[str, Any]]:
    return {int(c): g for g in graphs for c in g.get("calls") or ()}


def _finding(
    ref: list[int],
    group: list[int],
    call: int,
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    ddp_failed: bool,
) -> tuple[Finding, list[int]]:
    them, us = _who(ref), _who(group)
    oa, ob = a["outline"], b["outline"]
    parts = []
    for side, x, y in ((them, oa, ob), (us, ob, oa)):
        only = sorted(set(x["reached"]) - set(y["reached"]))
        if only:
            parts.append(f"only {side}'s backward reached {_join(only)}")
    ops_a = {tuple(o) for o in oa["ops"]} - {tuple(o) for o in ob["ops"]}
    ops_b = {tuple(o) for o in ob["ops"]} - {tuple(o) for o in oa["ops"]}
    for side, ops in ((them, ops_a), (us, ops_b)):
        if ops:
            parts.append(f"only {side} ran {_ops(ops)}")
    first = min(ops_a | ops_b, key=lambda o: (o[2] == 0, o[1], o[2]), default=None)
    file, line = (
        (first[1] or None, first[2] or None) if first else tuple(a.get("site") or (None, None))
    )
    detail = "; ".join(parts) or "their ops or parameters differ"
    finding = Finding(
        kind=KIND,
        severity="warning" if ddp_failed else "info",
        message=(
            f"{us.capitalize()} built a different autograd graph than {them} at backward call "
            f"{call}: {detail}."
        ),
        hint=(
            "With DistributedDataParallel every rank must produce the same parameters' gradients "
            "at every step: make this branch go the same way on every rank (it depends on the "
            "rank or on the rank's own data), or pass find_unused_parameters=True to "
            "DistributedDataParallel so it does not wait for a gradient a rank does not produce."
        ),
        file=file,
        line=line,
    )
    return finding, list(group)


def _who(ranks: list[int]) -> str:
    return f"rank {ranks[0]}" if len(ranks) == 1 else "ranks " + ", ".join(map(str, ranks))


def _ops(ops: set[tuple[Any, ...]]) -> str:
    """``line 23 (AddBackward0, AddmmBackward0 in Net, aux)``: the ops by source line."""
    lines: dict[tuple[str, int], tuple[set[str], set[str]]] = {}
    for name, file, line, module in ops:
        names, modules = lines.setdefault((file, line), (set(), set()))
        names.add(name)
        if module:
            modules.add(module)
    texts = []
    for (_file, line), (names, modules) in sorted(
        lines.items(), key=lambda kv: (kv[0][1] == 0, kv[0])
    ):
        where = f"line {line}" if line else "code without a line"
        inside = f" in {', '.join(sorted(spelled(m) for m in modules))}" if modules else ""
        texts.append(f"{where} ({', '.join(sorted(names))}{inside})")
    return _join(texts)


def _join(items: Sequence[str]) -> str:
    if len(items) > 5:
        return ", ".join(items[:5]) + f" and {len(items) - 5} more"
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
