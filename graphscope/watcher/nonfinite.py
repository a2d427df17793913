"""Where a NaN or Inf first appears in a backward pass: hooks on a new graph's op nodes.

Each hook sees an op's incoming gradients (``grad_outputs``) and the ones it computes
(``grad_inputs``); the first op whose results are non-finite while its inputs were finite is
where the NaN or Inf came from. The hooks are removed when the call returns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from graphscope._tensors import outside_modes
from graphscope.model import OP, Events, NonFinite
from graphscope.tracer import Capture

__all__ = ["nonfinite_hooks"]


def nonfinite_hooks(cap: Capture, index: int, gid: str | None, events: Events) -> list[Any]:
    """Hook every op node of ``cap``; the first non-finite origin becomes a :class:`NonFinite`
    event of call ``index``. Returns the handles (remove them after the call)."""
    seen = [False]
    g = cap.graph

    def make(nid: str) -> Callable[..., None]:
        def hook(grad_inputs: Sequence[Any], grad_outputs: Sequence[Any]) -> None:
            if seen[0]:
                return
            if not _all_finite(grad_inputs) and _all_finite(grad_outputs):
                seen[0] = True
                d = g.nodes[nid]
                events.nonfinite.append(
                    NonFinite(
                        index,
                        gid,
                        nid,
                        str(d.get("name")),
                        _nonfinite_kind(grad_inputs),
                        d.get("file"),
                        d.get("line"),
                    )
                )

        return hook

    handles = []
    for nid, fn in cap.fns.items():
        if g.nodes[nid].get("kind") != OP:
            continue
        try:
            handles.append(fn.register_hook(make(nid)))
        except Exception:
            continue
    return handles


@outside_modes
def _all_finite(tensors: Sequence[Any]) -> bool:
    for t in tensors:
        if isinstance(t, torch.Tensor) and t.is_floating_point() and t.numel():
            try:
                if not bool(torch.isfinite(t).all()):
                    return False
            except Exception:
                continue
    return True


@outside_modes
def _nonfinite_kind(tensors: Sequence[Any]) -> str:
    nan = inf = False
    for t in tensors:
        if isinstance(t, torch.Tensor) and t.is_floating_point() and t.numel():
            nan = nan or bool(torch.isnan(t).any())
            inf = inf or bool(torch.isinf(t).any())
    return "nan+inf" if nan and inf else "nan" if nan else "inf"
