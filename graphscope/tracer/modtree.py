"""The module tree and the op sequence, for :mod:`graphscope.tracer.infer`'s rules.

:class:`ModuleTree` knows each module's class and place (``named_modules()`` order), which
modules are leaves and which leaves hold no parameter; it gives a leaf's call the ops torch's
implementation of its class makes around its parameter reads, finds the parameterless leaf an
op is named after, and the module an op closes or enters. The helpers read the walk's own
adjacency lists (``succ``/``pred``: node id -> neighbour ids; a named tensor may sit between two
ops) and ranks (an op's place in forward order).
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["ModuleTree", "MHA", "NO", "between", "common"]

NO: tuple[str, ...] = ()
_CONTAINERS = frozenset({"Sequential", "ModuleList", "ModuleDict"})
_BACKWARD = re.compile(r"Backward\d*$")
#: parameterless classes (a fragment of the lower-case name) and the ops their forward makes
#: under another name (dropout multiplies by its mask on CPU; a 1x1 adaptive pool is a mean)
_ALIASES = (
    ("dropout", frozenset({"mul", "nativedropout", "fuseddropout"})),
    ("adaptiveavgpool", frozenset({"mean"})),
    ("flatten", frozenset({"view", "reshape", "unsafeview"})),
)
_VIEWS = frozenset({"ViewBackward0", "UnsafeViewBackward0"})
_RNNS = frozenset({"LSTM", "GRU", "RNN"})
#: every op a leaf's fringe may hold (:func:`_fringe`): a quick test before the class's own
_FRINGE_NAMES = _VIEWS | {"TransposeBackward0", "CloneBackward0"}
MHA = "MultiheadAttention"


def _ranks(adj: Mapping[str, list[str]], rank: Mapping[str, int], op: str) -> list[int]:
    """The ranks of the ops next to ``op`` along ``adj`` (through a named tensor between)."""
    out: list[int] = []
    for p in adj.get(op, NO):
        r = rank.get(p)
        if r is None:
            out.extend(rank[q] for q in adj.get(p, NO) if q in rank)
        else:
            out.append(r)
    return out


@functools.lru_cache(maxsize=4096)  # a few distinct pairs, many ops
def between(up: str, down: str) -> str | None:
    """The module of an op after ``up``'s and before ``down``'s: their common module, but
    the next one of a list (``layers.0`` ... ``layers.1``) when they are two of its items
    (what comes between two layers prepares the second one's input)."""
    shared = common(up, down)
    k = len(shared.split(".")) if shared else 0
    pa, pb = up.split("."), down.split(".")
    if len(pa) > k and len(pb) > k and pa[k].isdigit() and pb[k].isdigit():
        return ".".join(pb[: k + 1])
    return shared


@functools.lru_cache(maxsize=4096)
def common(a: str, b: str) -> str | None:
    """The deepest module holding both (``a.b.c``, ``a.b.d`` -> ``a.b``)."""
    pa, pb = a.split("."), b.split(".")
    k, m = 0, min(len(pa), len(pb))
    while k < m and pa[k] == pb[k]:
        k += 1
    return ".".join(pa[:k]) or None


def _within(path: str, outer: str) -> bool:
    return path == outer or path.startswith(outer + ".")


def _alike(cls: str, op: str) -> bool:
    """Whether a module class (``relu``) names an op (``relu``, ``leakyrelu``), lower case."""
    if cls == op or (len(cls) >= 4 and (cls in op or op in cls)):
        return True
    return any(frag in cls and op in names for frag, names in _ALIASES)


_T, _C = "TransposeBackward0", "CloneBackward0"
#: batch_first: an RNN transposes its input (and makes it contiguous), runs, transposes back;
#: attention transposes query/key/value in and its output back
_RNN_FRINGE = (frozenset({_T, _C}), 2, frozenset({_T}), 1)
_MHA_FRINGE = (frozenset({_T}), 3, frozenset({"ViewBackward0", _T}), 2)


def _fringe(cls: str) -> tuple[frozenset[str], int, frozenset[str], int] | None:
    """The ops torch's implementation of a leaf class makes before and after the ops that read
    its parameters: (names, how many) before, (names, how many) after. at::linear on an N-d
    input views it to 2-d, runs addmm and views back; so does transformers' ``Conv1D``."""
    if cls.endswith("Linear") or cls == "Conv1D":
        return _VIEWS, 1, _VIEWS, 1
    return _RNN_FRINGE if cls in _RNNS else _MHA_FRINGE if cls == MHA else None


class ModuleTree:
    """The module tree of ``classes``: order, parents, and the leaves without parameters."""

    def __init__(self, classes: Mapping[str, str], with_params: set[str]) -> None:
        self.classes = classes
        self.order = {p: k for k, p in enumerate(classes)}
        paths = list(classes)
        self.inner = inner = {p.rpartition(".")[0] for p in paths}
        bare = [  # leaves holding no parameter: ReLU, Tanh, Dropout, Sigmoid, ...
            p for p in paths if p not in inner and p not in with_params and "." in p
        ]
        #: the bare leaves by parent, in tree order: (order, path) for a bisection
        self.bare: dict[str, list[tuple[int, str]]] = {}
        for p in bare:
            self.bare.setdefault(p.rpartition(".")[0], []).append((self.order[p], p))
        self._bare_classes = {classes[p].lower() for p in bare}
        #: an op's label -> its name in lower case when a bare leaf's class is like it, else ""
        self._named: dict[str, str] = {}
        self._callish_of: dict[str, bool] = {}
        self._specs: dict[str, Any] = {}  # class -> its _fringe
        self._lifted: dict[str | None, str | None] = {}

    def _leaf_like(self, label: str) -> str:
        op = self._named.get(label)
        if op is None:
            op = _BACKWARD.sub("", label).lower()
            if label.startswith("MulBackward") and label != "MulBackward0":
                op = ""  # times a number: no module's (dropout multiplies by its mask)
            if len(op) < 3 or not any(_alike(c, op) for c in self._bare_classes):
                op = ""
            self._named[label] = op
        return op

    def _callish(self, m: str) -> bool:
        """A module whose forward is one call of torch's: a leaf, or a MultiheadAttention."""
        hit = self._callish_of.get(m)
        if hit is None:
            hit = self._callish_of[m] = m not in self.inner or self.classes.get(m) == MHA
        return hit

    def calls(
        self,
        nodes: Mapping[str, dict[str, Any]],
        ops: Sequence[str],
        own: Mapping[str, str | None],
        anchors: Sequence[int],
        succ: Mapping[str, list[str]],
        pred: Mapping[str, list[str]],
        rank: Mapping[str, int],
        out: dict[str, str | None],
    ) -> None:
        """Give each call of a leaf module the ops between its parameter reads, and the few
        its class makes around them (``out``: op -> module; ``anchors``: the ranks of the ops
        that read parameters, in order)."""
        callish = self._callish
        found: list[tuple[int, int, str]] = []  # (first rank, last rank, leaf module)
        cur: str | None = None
        start = last = -1
        seen: set[str] | None = None  # the parameters the call read (from its second op on)
        for r in anchors:
            n = ops[r]
            m = own[n]
            if m == cur:
                if r == last + 1 and seen is None:  # nothing between: one call, most likely
                    last = r
                    continue
                if seen is None:
                    seen = _params(nodes, pred, ops[last])
                ps = _params(nodes, pred, n)
                if seen.isdisjoint(ps):  # the same call: it reads each parameter once
                    for k in range(last + 1, r):
                        out[ops[k]] = m
                    seen |= ps
                    last = r
                    continue
            if cur is not None:
                found.append((start, last, cur))
            cur = m if m is not None and callish(m) else None
            start = last = r
            seen = None
        if cur is not None:
            found.append((start, last, cur))
        names, end = _FRINGE_NAMES, len(ops) - 1
        for lo, hi, m in found:  # most calls have no op of a fringe kind next to them
            if (lo > 0 and nodes[ops[lo - 1]]["name"] in names) or (
                hi < end and nodes[ops[hi + 1]]["name"] in names
            ):
                self._ends(nodes, ops, succ, pred, rank, out, lo, hi, m)

    def _ends(
        self,
        nodes: Mapping[str, dict[str, Any]],
        ops: Sequence[str],
        succ: Mapping[str, list[str]],
        pred: Mapping[str, list[str]],
        rank: Mapping[str, int],
        out: dict[str, str | None],
        lo: int,
        hi: int,
        m: str,
    ) -> None:
        """The ops of :func:`_fringe` around call ``lo``..``hi`` of leaf ``m``."""
        cls = self.classes.get(m, "")
        spec = self._specs.get(cls, 0)
        if spec == 0:
            spec = self._specs[cls] = _fringe(cls)
        if spec is None:
            return
        before = lo > 0 and nodes[ops[lo - 1]]["name"] in spec[0]
        after = hi + 1 < len(ops) and nodes[ops[hi + 1]]["name"] in spec[2]
        if before or after:
            self._fringe(nodes, ops, succ, pred, rank, out, lo, hi, m, spec)

    def _fringe(
        self,
        nodes: Mapping[str, dict[str, Any]],
        ops: Sequence[str],
        succ: Mapping[str, list[str]],
        pred: Mapping[str, list[str]],
        rank: Mapping[str, int],
        out: dict[str, str | None],
        lo: int,
        hi: int,
        m: str,
        spec: tuple[frozenset[str], int, frozenset[str], int],
    ) -> None:
        before, nb, after, na = spec
        linear = before is _VIEWS
        k = lo - 1
        while k >= 0 and lo - k <= nb:
            n = ops[k]
            if n in out or nodes[n]["name"] not in before:
                break
            if not any(k < r <= hi for r in _ranks(succ, rank, n)):
                break
            if linear and not _reshapes(nodes, pred, n, to_2d=True):
                break
            out[n] = m
            k -= 1
        k = hi + 1
        while k < len(ops) and k - hi <= na:
            n = ops[k]
            if n in out or nodes[n]["name"] not in after:
                break
            if not any(lo <= r < k for r in _ranks(pred, rank, n)):
                break
            if linear and not _reshapes(nodes, pred, n, to_2d=False):
                break
            out[n] = m
            k += 1

    def leaf_for(
        self, d: Mapping[str, Any], up: str, down: str | None, inputs: int = 1
    ) -> str | None:
        """The parameterless leaf module named like op ``d`` that comes after ``up`` (and
        before ``down``) in the tree, a sibling of either; else one of ``up``'s earlier
        siblings (a leaf called a second time)."""
        op = self._leaf_like(str(d.get("label") or d.get("name") or ""))
        if not op or up not in self.order or (op == "mul" and inputs != 1):
            return None  # (dropout multiplies one value by a mask that needs no gradient)
        lo, hi = self.order[up], self.order.get(down, len(self.order)) if down else len(self.order)
        parent = up.rpartition(".")[0]
        near = {parent, (down or "").rpartition(".")[0]}
        best: tuple[int, str] | None = None
        for p in near:
            leaves = self.bare.get(p, ())
            for i in range(bisect_right(leaves, (lo, "\uffff")), len(leaves)):
                k, path = leaves[i]
                if k >= hi:
                    break
                if _alike(self.classes[path].lower(), op):
                    if best is None or k < best[0]:
                        best = (k, path)
                    break
        while best is None and parent:
            # called again: the nearest earlier sibling like it
            leaves = self.bare.get(parent, ())
            for i in range(bisect_right(leaves, (lo, "\uffff")) - 1, -1, -1):
                if _alike(self.classes[leaves[i][1]].lower(), op):
                    return leaves[i][1]
            if self.classes.get(parent) not in _CONTAINERS:
                break  # (a container's parent made the call: look there too)
            parent = parent.rpartition(".")[0]
        return best[1] if best else None

    def ending(
        self,
        n: str,
        up: str,
        default: str | None,
        late: int,
        nodes: Mapping[str, dict[str, Any]],
        pred: Mapping[str, list[str]],
        succ: Mapping[str, list[str]],
        rank: Mapping[str, int],
        ops: Sequence[str],
    ) -> str | None:
        """The module of free op ``n``, which combines ``up``'s output (its latest feeder,
        at rank ``late``) with other values, when it ends a module around ``up``: it combines
        a value made inside that module, or the input of a container's item the item read
        before ``n``; else ``default``. Modules of the ops before ``n`` are in ``nodes``."""
        others = [r for r in _ranks(pred, rank, n) if r != late]
        if not others:
            return default
        best: str | None = None
        for r in others:
            m = nodes[ops[r]]["module"]
            if m:
                c = self.lift(common(up, m))
                if c and not self._callish(c) and (best is None or len(c) > len(best)):
                    best = c
        me = rank[n]
        path = up
        while "." in path:
            item, parent = path, path.rpartition(".")[0]
            path = parent
            if self.classes.get(parent) not in _CONTAINERS or item not in self.inner:
                continue
            if best is not None and len(best) >= len(item):
                break
            if any(  # the item's input: read by an op of the item before ``n``
                r2 < me and _within(nodes[ops[r2]]["module"] or "", item)
                for r in others
                for r2 in _ranks(succ, rank, ops[r])
            ):
                best = item
                break
        if best is not None and (default is None or not _within(default, best)):
            return best
        return default

    def lift(self, m: str | None) -> str | None:
        """``m``, or its nearest ancestor that is not a container (a container makes no op)."""
        hit = self._lifted.get(m, "")
        if hit != "":
            return hit
        p = m
        while p and self.classes.get(p) in _CONTAINERS:
            p = p.rpartition(".")[0]
        self._lifted[m] = p or None
        return p or None

    def entered(self, up: str, down: str) -> str | None:
        """The module ``down`` sits in when the op between comes from outside it: that
        module's own forward made the op, before calling ``down`` (not a container: a
        ``Sequential`` makes no op of its own)."""
        parent = down.rpartition(".")[0]
        if not parent or up == parent or up.startswith(parent + "."):
            return None
        if self.classes.get(parent, "") in _CONTAINERS or parent not in self.order:
            return None
        if "." not in parent:  # the root: the common module already
            return None
        return parent


def _reshapes(
    nodes: Mapping[str, dict[str, Any]], pred: Mapping[str, list[str]], n: str, to_2d: bool
) -> bool:
    """Whether view op ``n`` flattens an N-d input to 2-d keeping its last dimension
    (``to_2d``), or unflattens a 2-d one back: at::linear's own views, not the user's."""
    shape = nodes[n].get("shape")
    ins = pred.get(n, NO)
    if not isinstance(shape, (tuple, list)) or len(ins) != 1:
        return False
    src = nodes[ins[0]].get("shape")
    if not isinstance(src, (tuple, list)) or not shape or not src or shape[-1] != src[-1]:
        return False
    return (len(shape) == 2 < len(src)) if to_2d else (len(src) == 2 < len(shape))


def _params(
    nodes: Mapping[str, dict[str, Any]], pred: Mapping[str, list[str]], op: str
) -> set[str]:
    """The parameters (inputs with a module) op ``op`` reads."""
    return {p for p in pred.get(op, NO) if nodes[p]["module"] and nodes[p]["kind"] != "op"}
