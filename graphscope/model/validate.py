"""``validate(graph)``: check an :class:`AutogradGraph` against the vocabulary's definitions.

The definitions are the TypedDicts of :mod:`graphscope.model.graph`: every key a node, edge or
the graph itself carries must be one of its kind's fields, hold a value of the annotated type, and
every required field must be present. Used by the tests on every graph graphscope makes (traces,
captures, collapsed overviews, drill-downs), so a key that is not in the vocabulary, or a tensor
left in the data, fails loudly.

>>> from graphscope.model import AutogradGraph
>>> g = AutogradGraph()
>>> g.add_node("n0", kind="tensor", label="w", colour="red")
>>> validate(g)
Traceback (most recent call last):
...
ValueError: node n0 (tensor): unknown key 'colour'; ...
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from graphscope.model.graph import (
    NODE_TYPES,
    AutogradGraph,
    EdgeData,
    GraphData,
)
from graphscope.model.runs import RunList

__all__ = ["validate", "problems"]

_REQUIRED = {
    "tensor": ("kind", "label", "role", "shape", "requires_grad", "is_leaf"),
    "op": ("kind", "label", "name", "saved"),
    "group": ("kind", "label", "name", "repeat", "members"),
}
_MAX_PROBLEMS = 20


def validate(graph: AutogradGraph) -> None:
    """Raise ``ValueError`` naming the first problems when ``graph`` breaks the vocabulary."""
    found = problems(graph)
    if found:
        more = f" (and {len(found) - _MAX_PROBLEMS} more)" if len(found) > _MAX_PROBLEMS else ""
        raise ValueError("; ".join(found[:_MAX_PROBLEMS]) + more)


def problems(graph: AutogradGraph) -> list[str]:
    """Every way ``graph`` breaks the vocabulary, as sentences (empty when it is valid)."""
    out: list[str] = []
    out += _check_dict("graph", graph.graph, GraphData, ())
    for n, d in graph.nodes(data=True):
        kind = d.get("kind")
        cls = NODE_TYPES.get(str(kind))
        if cls is None:
            out.append(f"node {n}: kind must be one of {list(NODE_TYPES)} (got {kind!r})")
            continue
        out += _check_dict(f"node {n} ({kind})", d, cls, _REQUIRED[str(kind)])
    for u, v, d in graph.edges(data=True):
        out += _check_dict(f"edge {u}->{v}", d, EdgeData, ())
    return out


def _check_dict(
    where: str, d: Mapping[str, Any], cls: type, required: tuple[str, ...]
) -> list[str]:
    hints = _hints(cls)
    out = [f"{where}: missing key {k!r}" for k in required if k not in d]
    for k, v in d.items():
        hint = hints.get(k)
        if hint is None:
            out.append(
                f"{where}: unknown key {k!r}; the keys of {cls.__name__} are {sorted(hints)}"
            )
        elif not _matches(v, hint):
            out.append(f"{where}: {k}={_short(v)} is not {_type_text(hint)}")
    return out


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    got = _HINTS.get(cls)
    if got is None:
        got = _HINTS[cls] = get_type_hints(cls)
    return got


def _matches(value: Any, hint: Any) -> bool:
    """Does ``value`` fit the annotation ``hint`` (the subset of typing the vocabulary uses)?"""
    if hint is Any:
        return True
    origin = get_origin(hint)
    args = get_args(hint)
    if origin is Literal:
        return value in args
    if origin in (Union, types.UnionType):
        return any(_matches(value, a) for a in args)
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if typing.is_typeddict(hint):
        return isinstance(value, dict) and not _check_dict("", value, hint, ())
    if origin in (list, tuple, Sequence):
        if not isinstance(value, (list, tuple)) and not (
            origin is Sequence and isinstance(value, RunList)
        ):
            return False
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            return all(_matches(x, args[0]) for x in value)
        if origin is tuple:
            return len(value) == len(args) and all(
                _matches(x, a) for x, a in zip(value, args, strict=True)
            )
        return all(_matches(x, args[0]) for x in value) if args else True
    if origin is dict:
        return isinstance(value, dict) and all(
            _matches(k, args[0]) and _matches(v, args[1]) for k, v in value.items()
        )
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True


def _type_text(hint: Any) -> str:
    return str(hint).replace("typing.", "")


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."
