"""Every node of the graph in compact columns: what the page's inspector and search read.

A 50k-node graph must fit in a few megabytes, so node attributes are not written as one JSON
object per node:

* the attributes that few nodes differ in (kind, role, op, file, line, shape, dtype, flags, ...,
  :data:`PROFILE`) form a node's *profile*, a list stored once in the value table ``V`` however
  many nodes share it; column ``pf`` holds each node's profile index;
* label, name (``-1``: same as the label) and module point into the string table ``S``; other
  names the user's variables give a tensor (``aliases``) are a list in ``V`` (column ``al``),
  so that the parameters of 1,000 layers still share a profile;
* gradients are rows ``[numel, norm, min, max, nonfinite, first, call]`` (trailing nulls left
  out; first values only for gradients of at most 4 values, which is when the page shows them;
  floats to 4 significant digits, non-finite ones as ``"nan"``/``"inf"``);
* saved tensors are ``[[V index of the entry without its tensor id, tensor node - this node
  or null], ...]``, relative so that the same block repeated 1,000 times is stored once;
* every column is written as a plain list, sparse ``{"d": default, "i": [positions], "v":
  [values]}`` or run-length ``{"r": [value, count, ...]}``, whichever is shortest.

Index 0 of ``S`` and ``V`` is ``None``. The reader is ``explorer.js`` (``column()``, ``node()``).
Attributes this module does not know are kept, one extra dict per node (column ``x``), except
an op's ``order`` (its rank in forward order: every op's differs, and the page shows nothing
of it).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from graphscope.memory import node_bytes_of
from graphscope.memory.advice import ITEMSIZE
from graphscope.model import AutogradGraph, jsonable

#: Attributes stored in a node's profile, in this order (the page reads the order from the data).
PROFILE: tuple[str, ...] = (
    "kind",
    "role",
    "op",
    "file",
    "line",
    "shape",
    "dtype",
    "device",
    "grad_fn",
    "requires_grad",
    "is_leaf",
    "retains_grad",
    "version",
    "reached",
    "freed",
    "custom",
    "opaque",
    "attrs",
    "grad_call",
    "bytes",  # saved-tensor memory, computed here (not an attribute)
)
_OWN = {"label", "name", "module", "aliases", "grad", "grad_history", "saved"}
_KNOWN = (set(PROFILE) - {"bytes"}) | _OWN | {"order"}
#: saved-entry keys the page does not show (storage indexes differ in every copy of a block,
#: and would keep the copies' entries from being stored once)
_NOT_SHOWN = ("tensor", "storage", "storages")
_SAME_AS_LABEL = -1
_IMPLICIT_ID = re.compile(r"n(\d+)\Z")
_FIRST_SHOWN = 4  # gradients of at most this many values are shown as their values


class Tables:
    """The string table ``S`` and the value table ``V`` (equal values stored once)."""

    def __init__(self) -> None:
        self.strings: list[str | None] = [None]
        self.values: list[Any] = [None]
        self._s: dict[str, int] = {}
        self._v: dict[str, int] = {}

    def s(self, text: Any) -> int:
        """Index of ``text`` (made a string) in ``S``; 0 for None."""
        if text is None:
            return 0
        t = str(text)
        i = self._s.get(t)
        if i is None:
            i = self._s[t] = len(self.strings)
            self.strings.append(t)
        return i

    def v(self, value: Any) -> int:
        """Index of ``value`` (made JSON-ready) in ``V``; 0 for None."""
        if value is None:
            return 0
        key = repr(value)  # values made by one piece of code list their keys in one order
        i = self._v.get(key)
        if i is None:
            i = self._v[key] = len(self.values)
            self.values.append(jsonable(value))
        return i


def number(x: Any) -> Any:
    """A number for the page: 4 significant digits, non-finite as text, ints and None kept.

    >>> number(0.1 + 0.2), number(123456.7), number(float("-inf")), number(3), number(None)
    (0.3, 123500.0, '-inf', 3, None)
    """
    if x is None or isinstance(x, (bool, int)):
        return int(x) if isinstance(x, bool) else x
    if not isinstance(x, float):
        return None
    if not math.isfinite(x):
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    return float(f"{x:.4g}")


def grad_row(summary: Mapping[str, Any] | None) -> list[Any] | None:
    """A gradient summary as ``[numel, norm, min, max, nonfinite, first, call]``, trailing
    nulls left out.

    >>> grad_row({"numel": 2, "norm": 2 ** 0.5, "first": [1.0, -1.0], "nonfinite": False})
    [2, 1.414, None, None, None, [1.0, -1.0]]
    """
    if not summary:
        return None
    numel = summary.get("numel")
    first = summary.get("first")
    shown = bool(first) and isinstance(numel, int) and numel <= _FIRST_SHOWN
    row = [
        numel,
        number(summary.get("norm")),
        number(summary.get("min")),
        number(summary.get("max")),
        1 if summary.get("nonfinite") else None,
        [number(v) for v in first or ()] if shown else None,
        summary.get("call"),
    ]
    while row and row[-1] is None:
        row.pop()
    return row


def grad_norm(summary: Mapping[str, Any] | None) -> float | None:
    """The finite norm of a gradient summary, else None."""
    norm = (summary or {}).get("norm")
    return float(norm) if isinstance(norm, (int, float)) and math.isfinite(norm) else None


def saved_bytes(saved: Iterable[Mapping[str, Any]] | None) -> int:
    """Bytes held by the saved tensors still alive (freed ones hold nothing)."""
    total = 0
    for s in saved or ():
        if s.get("status") == "freed" or s.get("shape") is None:
            continue
        total += math.prod(int(k) for k in s["shape"]) * ITEMSIZE.get(str(s.get("dtype")), 4)
    return total


def pack(values: Sequence[Any]) -> Any:
    """A column as the shortest of: the list, sparse ``{"d", "i", "v"}``, run-length ``{"r"}``.

    >>> pack([0, 0, 0, 0, 7]), pack([3, 3, 3, 3, 4, 4, 4, 4]), pack([1, 2])
    ({'d': 0, 'i': [4], 'v': [7]}, {'r': [3, 4, 4, 4]}, [1, 2])
    """
    values = list(values)
    if len(values) < 3:
        return values
    keys = [v if v is None or isinstance(v, (int, str)) else repr(v) for v in values]
    lens = [_size(v) for v in values]  # characters each value takes in JSON, with its comma
    common = Counter(keys).most_common(1)[0][0]
    default = values[keys.index(common)]
    sparse_i = [i for i, k in enumerate(keys) if k != common]
    runs: list[Any] = []
    run_size = 0
    for i, k in enumerate(keys):
        if i and k == keys[i - 1]:
            runs[-1] += 1
        else:
            runs += [values[i], 1]
            run_size += lens[i]
    run_size += sum(len(str(c)) + 1 for c in runs[1::2])
    sparse_size = sum(len(str(i)) + 1 + lens[i] for i in sparse_i)
    sizes = [sum(lens), sparse_size, run_size]
    best = sizes.index(min(sizes))
    if best == 0:
        return values
    if best == 1:
        return {"d": default, "i": sparse_i, "v": [values[i] for i in sparse_i]}
    return {"r": runs}


def _size(v: Any) -> int:
    if v is None:
        return 5
    if isinstance(v, int):
        return len(str(v)) + 1
    return len(json.dumps(v)) + 1


def node_columns(graph: AutogradGraph, index: Mapping[str, int], tables: Tables) -> dict[str, Any]:
    """Every node of ``graph`` (in ``index`` order) as packed columns (see the module doc)."""
    rows = [graph.nodes[n] for n in index]
    held = node_bytes_of(graph)  # each storage once, for the op that saved it first
    labels = [tables.s(d.get("label")) for d in rows]
    names = [tables.s(d.get("name")) for d in rows]
    extras = [{k: v for k, v in d.items() if k not in _KNOWN} for d in rows]
    return {
        "pf": pack([tables.v(_profile(d, n, held)) for n, d in zip(index, rows, strict=True)]),
        "lb": pack(labels),
        "nm": pack([_SAME_AS_LABEL if n == lb else n for n, lb in zip(names, labels, strict=True)]),
        "md": pack([tables.s(d.get("module")) for d in rows]),
        "al": pack([tables.v(list(d["aliases"])) if d.get("aliases") else 0 for d in rows]),
        "gr": pack([grad_row(d.get("grad")) for d in rows]),
        "gh": pack([[grad_row(h) for h in d.get("grad_history") or ()] or None for d in rows]),
        "sv": pack([_saved(d.get("saved"), i, tables, graph, index) for i, d in enumerate(rows)]),
        "id": pack([0 if _implicit(n, i) else n for n, i in index.items()]),
        "x": pack([tables.v(e) if e else 0 for e in extras]),
    }


def _profile(d: Mapping[str, Any], nid: str, held: Mapping[str, int] | None) -> list[Any]:
    nbytes = node_bytes(d, nid, held)
    return [nbytes if k == "bytes" else d.get(k) for k in PROFILE]


def node_bytes(d: Mapping[str, Any], nid: str, held: Mapping[str, int] | None) -> int:
    """The saved-tensor memory shown for node ``nid``: the storages it saved first (``held``,
    from :func:`graphscope.memory.node_bytes_of`), or, for a graph captured without storage
    facts, its saved tensors' shapes times their item sizes."""
    if held is not None:
        return held.get(nid, 0)
    return saved_bytes(d.get("saved"))


def _implicit(node: str, i: int) -> bool:
    m = _IMPLICIT_ID.match(node)
    return m is not None and int(m.group(1)) == i


def _saved(
    saved: Iterable[Mapping[str, Any]] | None,
    at: int,
    tables: Tables,
    graph: AutogradGraph,
    index: Mapping[str, int],
) -> int:
    """V index of ``[[entry, tensor node - at or None], ...]`` (0: nothing saved). An entry
    drops its tensor's id, and its tensor's name when that node carries it."""
    out = []
    for s in saved or ():
        tensor = s.get("tensor")
        ref = index.get(tensor) if isinstance(tensor, str) else None
        entry = {k: v for k, v in s.items() if k not in _NOT_SHOWN}
        if ref is not None and entry.get("tensor_name") == graph.nodes[tensor].get("name"):
            del entry["tensor_name"]
        out.append([tables.v(entry), None if ref is None else ref - at])
    return tables.v(out) if out else 0
