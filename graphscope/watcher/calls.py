"""One backward call as ``watch`` handles it: what is known before the engine runs, and the
:class:`~graphscope.model.BackwardCall` event written after."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from graphscope._tensors import shape_of
from graphscope.model import BackwardCall
from graphscope.tracer import Capture


@dataclass
class PublicCall:
    """What the public ``backward``/``grad`` wrapper knows about the call in progress."""

    api: str  # "backward" or "grad"
    file: str | None
    line: int | None
    gradient_given: bool  # gradient= / grad_outputs= passed
    reached_engine: bool = False


@dataclass
class CallRecord:
    """A top-level call into the engine, between the capture and the engine's return."""

    index: int  # 1-based number of the call
    api: str
    file: str | None
    line: int | None
    roots: list[torch.Tensor]
    root_names: tuple[str, ...]
    accumulate: bool  # writes .grad (backward), not autograd.grad
    retain: bool
    create: bool
    gradient_given: bool
    cap: Capture | None  # a new capture, kept until the call returns (for its gradients)
    gid: str | None  # the distinct graph it went into
    leaves: list[tuple[str, torch.Tensor]]  # (node id, leaf) of the graph's reached leaves
    before: dict[int, str] = field(default_factory=dict)  # id(leaf) -> state of .grad before
    hooks: list[Any] = field(default_factory=list)  # handles removed when the call returns
    nodes: int | None = None  # backward nodes in the call's graph (from the fingerprint walk)


def engine_args(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[bool, bool, bool]:
    """``(accumulate, retain_graph, create_graph)`` of a call to ``_engine_run_backward``."""
    accumulate = bool(kwargs.get("accumulate_grad", True))
    retain = bool(args[1]) if len(args) > 1 and args[1] is not None else False
    create = bool(args[2]) if len(args) > 2 else False
    return accumulate, retain, create


def backward_call(
    index: int,
    api: str,
    where: tuple[str | None, int | None],
    roots: Sequence[torch.Tensor],
    root_names: tuple[str, ...],
    flags: tuple[bool, bool, bool],
    gid: str | None,
    error: BaseException | None,
    nodes: int | None = None,
) -> BackwardCall:
    """The event of one call; ``flags`` is ``(retain_graph, create_graph, gradient_given)``,
    ``error`` what it raised, if anything, ``nodes`` the size of its graph when walked."""
    text = None
    if error is not None:
        text = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
    retain, create, given = flags
    return BackwardCall(
        index=index,
        api=api,
        file=where[0],
        line=where[1],
        roots=root_names,
        root_shapes=tuple(shape_of(r) for r in roots),
        root_requires_grad=tuple(bool(r.requires_grad) for r in roots),
        retain_graph=retain,
        create_graph=create,
        gradient_given=given,
        graph=gid,
        error=text,
        error_type=None if error is None else type(error).__name__,
        nodes=nodes,
    )


def record_event(rec: CallRecord, error: BaseException | None) -> BackwardCall:
    """The :class:`BackwardCall` of a call that reached the engine."""
    return backward_call(
        rec.index,
        rec.api,
        (rec.file, rec.line),
        rec.roots,
        rec.root_names,
        (rec.retain, rec.create, rec.gradient_given),
        rec.gid,
        error,
        rec.nodes,
    )
