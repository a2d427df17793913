"""Module levels: the steps of each module, the folds among them, and the picture at a depth.

A module level ``P`` (``()`` is the script itself) holds the ops that ran in ``P`` and its
submodules, in forward order. Its *tokens* are its own ops and the calls of its children (a run
of consecutive ops of one child is one call): ``cell1, cell2, head, cell1, cell2, head, ...``
for a loop at script level, ``Cat, reset, Sigmoid, update, ...`` for a loop inside a module's
``forward``, ``0, 1, 2, ...`` for the layers of a ``ModuleList``. Repeats among the tokens fold
(:mod:`~graphscope.overview.folding`); what is left of each child is that child's group, or, when
the depth shows it expanded, the child's own level.

Levels are computed once (top-down, each on the ops its ancestors did not fold); the picture at a
given depth is then a walk over them, so trying every depth costs little.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from graphscope.errors import UsageError
from graphscope.overview.folding import fold
from graphscope.overview.groups import MODULE, Group, Item
from graphscope.overview.index import Index, Path, natural, no_digits, split
from graphscope.overview.periodic import find_runs

__all__ = ["Planner", "Token"]

_MIN_FOLD = 6  # ops a fold must hide to be worth it (``View ×2`` is not)
_INDEX = re.compile(r"^\d+$|\[\d+\]")


@dataclass
class Token:
    """One step of a module level: an own op (``child`` None) or one call of a child."""

    child: str | None
    ops: list[int] = field(default_factory=list)


@dataclass
class _Level:
    folds: list[Group]
    own: list[int]  # own ops not folded
    children: dict[str, list[int]]  # child name -> its ops not folded, in forward order


class Planner:
    """The module levels of one graph, and the items of its picture at any depth."""

    def __init__(self, ix: Index, expand: Sequence[str] = ()) -> None:
        self.ix = ix
        self.joined: dict[int, list[int]] = {}
        for i, o in enumerate(ix.owner):
            if o != i:
                self.joined.setdefault(o, []).append(i)
        ops = [i for i in range(len(ix.ids)) if ix.is_op[i] and not ix.fixed[i]]
        ops.sort(key=lambda i: ix.order[i])
        self.prefixes = _prefixes(ix)
        self.explicit = {self.resolve(e) for e in expand}
        self.opened = {p[:j] for p in self.explicit for j in range(1, len(p) + 1)}
        counts: dict[Path, int] = {}
        with_path = 0
        for i in ops:
            p = ix.paths[i]
            if p:
                with_path += 1
            for j in range(1, len(p) + 1):
                counts[p[:j]] = counts.get(p[:j], 0) + 1
        # a module that holds every op with a module (the model itself) is always open
        self.opened |= {p for p, c in counts.items() if c == with_path}
        self.deepest = max((len(p) for p in counts), default=0)
        self.classes: dict[str, str] = {
            path: str(info["cls"])
            for path, info in (ix.graph.graph.get("modules") or {}).items()
            if isinstance(info, dict) and info.get("cls")
        }
        self._avail: dict[Path, list[int]] = {(): ops}
        self._levels: dict[Path, _Level] = {}
        self._labels: dict[Any, int] = {}

    def resolve(self, path: str) -> Path:
        """The module path the user means (see :func:`resolve`)."""
        return resolve(self.ix, self.prefixes, path, "expand")

    # the picture at a depth --------------------------------------------------------------

    def items(self, depth: int, extra: frozenset[Path] = frozenset()) -> list[Item]:
        """Items of the ops at ``depth``, with the modules in ``extra`` expanded too (leaves
        and fixed nodes are added by the caller)."""
        out: list[Item] = []
        stack: list[Path] = [()]
        while stack:
            path = stack.pop()
            lv = self.level(path)
            out.extend(Item(list(g.members), g) for g in lv.folds)
            for i in lv.own:
                out.append(Item([i]))
                out.extend(Item([t]) for t in self.joined.get(i, ()))
            for child in sorted(lv.children, key=natural, reverse=True):
                sub = path + (child,)
                if sub in self.opened or sub in extra or len(sub) <= depth:
                    stack.append(sub)
                else:
                    out.append(Item(*self._module_group(path, sub, lv.children[child])))
        return out

    def _module_group(self, parent: Path, path: Path, ops: list[int]) -> tuple[list[int], Group]:
        members = self.with_joined(ops)
        name = ".".join(path)
        cluster = ".".join(parent) or None
        g = Group(
            kind=MODULE,
            name=name,
            title=self.titled(name, cluster),
            members=members,
            module=name,
            cluster=cluster,
            gid="g:" + name,
        )
        return members, g

    def titled(self, name: str, cluster: str | None, cls_of: str | None = None) -> str:
        """``cell1 · LSTMCell``: the name under its box, with the module's class."""
        rel = name[len(cluster) + 1 :] if cluster and name.startswith(cluster + ".") else name
        cls = self.classes.get(cls_of or name)
        return f"{rel} · {cls}" if cls and cls != rel else rel

    def with_joined(self, ops: list[int]) -> list[int]:
        out = list(ops)
        for i in ops:
            out.extend(self.joined.get(i, ()))
        return out

    # one module level ---------------------------------------------------------------------

    def level(self, path: Path) -> _Level:
        got = self._levels.get(path)
        if got is not None:
            return got
        ops = self._avail.pop(path, [])
        tokens = self._tokens(path, ops)
        folds: list[Group] = []
        in_fold = [False] * len(tokens)
        if path not in self.explicit and len(tokens) > 1:
            labels = [self._label(path, t, k) for k, t in enumerate(tokens)]
            runs = find_runs(labels, _token_succ(self.ix, tokens))
            for run in runs:
                if sum(len(t.ops) for t in tokens[run.start : run.end]) < _MIN_FOLD:
                    continue
                folds.append(fold(self, path, tokens, run))
                for k in range(run.start, run.end):
                    in_fold[k] = True
        own: list[int] = []
        children: dict[str, list[int]] = {}
        for k, t in enumerate(tokens):
            if in_fold[k]:
                continue
            if t.child is None:
                own.extend(t.ops)
            else:
                children.setdefault(t.child, []).extend(t.ops)
        for child, child_ops in children.items():
            self._avail[path + (child,)] = child_ops
        lv = self._levels[path] = _Level(folds, own, children)
        return lv

    def _tokens(self, path: Path, ops: list[int]) -> list[Token]:
        depth = len(path)
        paths = self.ix.paths
        tokens: list[Token] = []
        for i in ops:
            p = paths[i]
            child = p[depth] if len(p) > depth else None
            if child is not None and tokens and tokens[-1].child == child:
                tokens[-1].ops.append(i)
            else:
                tokens.append(Token(child, [i]))
        return tokens

    def _label(self, path: Path, token: Token, k: int) -> int:
        """Equal labels: tokens that may be copies of each other (negative: never)."""
        ix = self.ix
        if token.child is None:
            i = token.ops[0]
            key: Any = ("o", ix.data[i].get("name"), self._params_of(i, path))
        else:
            sub = path + (token.child,)
            if sub in self.opened:
                return -1 - k
            key = ("s", _index_free(token.child), self._structure(sub, token.ops))
        return self._labels.setdefault(key, len(self._labels))

    def _structure(self, path: Path, ops: list[int]) -> tuple[Any, ...]:
        """A call's ops (name, where inside the module, parameters) and its inner edges."""
        ix = self.ix
        depth = len(path)
        rank = {op: r for r, op in enumerate(ops)}
        through = ix.through()
        desc = tuple(
            (ix.data[i].get("name"), ".".join(ix.paths[i][depth:]), self._params_of(i, path))
            for i in ops
        )
        edges = tuple(sorted((rank[a], rank[b]) for a in ops for b in through[a] if b in rank))
        return desc, edges

    def _params_of(self, op: int, path: Path) -> tuple[Any, ...]:
        """The parameters of ``path`` an op reads, by their name inside it (``weight_ih``);
        leaves from outside (the input, a weight tied to another module) do not count: the
        first layer of a stack reads the input, the others the layer before."""
        ix = self.ix
        prefix = ".".join(path) + "." if path else ""
        out = []
        for j in ix.pred[op]:
            if not ix.leaf[j]:
                continue
            d = ix.data[j]
            name = str(d.get("name") or "")
            if prefix and name.startswith(prefix):
                out.append((name[len(prefix) :], tuple(d.get("shape") or ())))
        return tuple(sorted(out))


def resolve(ix: Index, prefixes: set[Path], path: str, what: str) -> Path:
    """The module path the user means: exact (``encoder.layers.2``), or the one path that
    ends with it (``layers.2``, when the model is held as ``encoder``)."""
    want = split(path)
    if want in prefixes:
        return want
    tails = [p for p in prefixes if p[-len(want) :] == want] if want else []
    if len(tails) == 1:
        return tails[0]
    if not ix.has_modules:
        raise UsageError(
            f"{what} {path!r} needs module paths on the op nodes, and this graph has none "
            "(pass params=model to trace() or render(), or capture it with "
            "graphscope.watch() or the graphscope command)"
        )
    raise UsageError(
        f"{what}: no node of this graph belongs to module {path!r}; modules present: "
        f"{some_paths(prefixes)}"
    )


def prefixes(ix: Index) -> set[Path]:
    """Every module path of the graph's nodes, and their parents."""
    return _prefixes(ix)


def _token_succ(ix: Index, tokens: list[Token]) -> list[list[int]]:
    """Which tokens each token feeds (through the tensors its ops made)."""
    of: dict[int, int] = {}
    for k, t in enumerate(tokens):
        for i in t.ops:
            of[i] = k
    through = ix.through()
    out: list[list[int]] = []
    for k, t in enumerate(tokens):
        nxt = {of[j] for i in t.ops for j in through[i] if j in of} - {k}
        out.append(sorted(nxt))
    return out


def _index_free(name: str) -> str:
    """``3`` and ``blocks[3]`` lose their index (siblings of a list fold); ``cell1`` does not
    (two instances the user named are never one fold)."""
    return _INDEX.sub(lambda m: "#" if m.group(0).isdigit() else "[#]", name)


def _prefixes(ix: Index) -> set[Path]:
    out: set[Path] = set()
    for p in set(ix.paths):
        for j in range(1, len(p) + 1):
            out.add(p[:j])
    return out


def some_paths(prefixes: set[Path]) -> str:
    found = sorted({".".join(p[:3]) for p in prefixes}, key=natural)
    if not found:
        return "none (this graph has no module paths)"
    more = f", ... ({len(found)} in all)" if len(found) > 10 else ""
    return ", ".join(found[:10]) + more


__all__ += ["some_paths", "no_digits"]
