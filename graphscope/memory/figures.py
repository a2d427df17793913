"""What one graph holds for backward: each storage counted once, ranked by line and by module.

The tracer records, for each saved tensor, the index of the storage it lives in, and for each
storage its bytes (the whole allocation, however little of it a view shows), what it holds
(:data:`~graphscope.model.StorageHolds`) and the op that made it (``graph.graph["storages"]``).
Here a storage saved by several ops (a tensor saved by two ops, a view and its base, a
parameter read by every layer) counts once, for the op that saved it first in forward order:
that op's line and module get its bytes. Parameters and inputs are held whatever backward does,
so the rankings are of activations, the part checkpointing can free.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graphscope.model import HOLDS_ACTIVATION, HOLDS_INPUT, HOLDS_PARAM, OP, AutogradGraph

__all__ = ["LineBytes", "ModuleBytes", "Holding", "holding"]


@dataclass(frozen=True)
class LineBytes:
    """The activation bytes first saved by the ops of one source line."""

    file: str | None
    line: int | None
    bytes: int
    node: str  # the op that saved the largest of them (where the explorer opens)
    #: the module of its ops: a pattern (``blocks.*.attn``) when the line ran in each of a
    #: repeated block's modules, else the module of the op that saved the largest
    module: str | None
    ops: tuple[str, ...]  # the op labels that saved them (``SoftmaxBackward0``), in order
    names: tuple[str, ...]  # the user's names of the tensors, when known


@dataclass(frozen=True)
class ModuleBytes:
    """The activation bytes first saved by the ops of one module (not its submodules)."""

    module: str | None  # None: ops outside any module
    bytes: int
    node: str


@dataclass
class Holding:
    """Every storage one graph saved for backward, and who saved it.

    ``owner[k]`` is the op that saved storage ``k`` first (forward order), ``savers[k]`` every
    op that saved it. ``bytes``/``holds``/``producer`` are the tracer's table, by index.
    """

    bytes: list[int] = field(default_factory=list)
    holds: list[str] = field(default_factory=list)
    producer: list[tuple[str, int] | None] = field(default_factory=list)
    owner: dict[int, str] = field(default_factory=dict)
    savers: dict[int, list[str]] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)  # a user's name of a tensor in it

    def total(self, holds: str | None = None) -> int:
        """Bytes of the storages saved (only those holding ``holds``, when given)."""
        return sum(self.bytes[k] for k in self.owner if holds is None or self.holds[k] == holds)

    def activations(self) -> list[int]:
        """The activation storages saved, in index order."""
        return [k for k in sorted(self.owner) if self.holds[k] == HOLDS_ACTIVATION]


def holding(graph: AutogradGraph) -> Holding | None:
    """The storages ``graph`` saved and their savers; None when the capture recorded none
    (a graph from an older graphscope, or one saved nothing)."""
    table = graph.graph.get("storages")
    if not table:
        return None
    h = Holding()
    for row in table:
        nbytes, holds, made_by, nr = row
        h.bytes.append(int(nbytes))
        h.holds.append(str(holds))
        h.producer.append((str(made_by), int(nr or 0)) if made_by is not None else None)
    nodes = graph.nodes
    ops = sorted((d.get("order", 1 << 62), n) for n, d in nodes(data=True) if d.get("kind") == OP)
    for _, n in ops:
        for e in nodes[n].get("saved") or ():
            for k in (e.get("storage"), *(e.get("storages") or ())):
                if not isinstance(k, int) or not 0 <= k < len(h.bytes):
                    continue
                if k not in h.owner:
                    h.owner[k] = n
                    h.savers[k] = [n]
                elif h.savers[k][-1] != n:
                    h.savers[k].append(n)
                name = e.get("tensor_name")
                if name and k not in h.names:
                    h.names[k] = str(name)
    return h


def by_line(graph: AutogradGraph, h: Holding) -> list[LineBytes]:
    """Activation bytes per source line of the op that saved them first, largest first."""
    nodes = graph.nodes
    groups: dict[tuple[Any, Any], list[int]] = {}
    for k in h.activations():
        d = nodes[h.owner[k]]
        groups.setdefault((d.get("file"), d.get("line")), []).append(k)
    out = []
    for (file, line), ks in groups.items():
        biggest = max(ks, key=lambda k: (h.bytes[k], -k))
        node = h.owner[biggest]
        ops = _distinct(str(nodes[h.owner[k]].get("label")) for k in ks)
        names = _distinct(h.names[k] for k in ks if k in h.names)
        total = sum(h.bytes[k] for k in ks)
        module = common_module([nodes[h.owner[k]].get("module") for k in ks], nodes[node])
        out.append(LineBytes(file, line, total, node, module, ops, names))
    out.sort(key=lambda r: (-r.bytes, r.file or "", r.line or 0))
    return out


def common_module(modules: list[Any], biggest: Mapping[str, Any]) -> str | None:
    """One name for the modules a line's ops ran in: the module when there is one, the
    pattern with indexes as ``*`` when they are copies of one (``blocks.0.attn``,
    ``blocks.1.attn`` -> ``blocks.*.attn``), else the largest storage's op's module."""
    found = {m for m in modules if m}
    if len(found) == 1:
        return found.pop()
    patterns = {_INDEX.sub("*", m) for m in found}
    if len(patterns) == 1 and None not in modules:
        return patterns.pop()
    m = biggest.get("module")
    return str(m) if m is not None else None


_INDEX = re.compile(r"(?:(?<=\.)|(?<=\[)|^)\d+(?=[\].]|$)")


def by_module(graph: AutogradGraph, h: Holding) -> list[ModuleBytes]:
    """Activation bytes per module of the op that saved them first (its own ops, not its
    submodules'), largest first."""
    nodes = graph.nodes
    groups: dict[str | None, list[int]] = {}
    for k in h.activations():
        groups.setdefault(nodes[h.owner[k]].get("module"), []).append(k)
    out = [
        ModuleBytes(m, sum(h.bytes[k] for k in ks), h.owner[max(ks, key=lambda k: h.bytes[k])])
        for m, ks in groups.items()
    ]
    out.sort(key=lambda r: (-r.bytes, r.module or ""))
    return out


def node_bytes(h: Holding) -> dict[str, int]:
    """Bytes each op saved first (every storage once, whatever it holds): what the explorer's
    memory colouring shows."""
    out: dict[str, int] = {}
    for k, n in h.owner.items():
        out[n] = out.get(n, 0) + h.bytes[k]
    return out


def holds_totals(h: Holding) -> Mapping[str, int]:
    """``{"param": ..., "input": ..., "activation": ...}`` bytes."""
    return {k: h.total(k) for k in (HOLDS_PARAM, HOLDS_INPUT, HOLDS_ACTIVATION)}


def _distinct(items: Any) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for i in items:
        seen.setdefault(i, None)
    return tuple(seen)


def fmt_bytes(n: float) -> str:
    """Human units, binary: ``fmt_bytes(48 * 2**20)`` is ``'48.0 MiB'``.

    >>> fmt_bytes(0), fmt_bytes(1023), fmt_bytes(1536), fmt_bytes(3 * 2**30)
    ('0 B', '1023 B', '1.5 KiB', '3.0 GiB')
    """
    if n < 1024:
        return f"{int(n)} B"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        n /= 1024
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}"
    return f"{n:.1f} TiB"  # pragma: no cover (the loop returns)


def percent(part: int, whole: int) -> str:
    """``'37%'``; ``'<1%'`` for a small non-zero share."""
    if whole <= 0:
        return "0%"
    p = 100 * part / whole
    return "<1%" if 0 < p < 1 else f"{p:.0f}%"
