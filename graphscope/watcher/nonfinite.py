"""Where a NaN or Inf first appears in a backward pass: hooks on a graph's op nodes, and a
cheap check of the leaves' gradients after every call.

Each hook sees an op's incoming gradients (``grad_outputs``) and the ones it computes
(``grad_inputs``); the first op whose results are non-finite while its inputs were finite is
where the NaN or Inf came from. The hooks are removed when the call returns. They are installed
on the first capture of each distinct graph; a NaN that appears later (a repeated graph, after
the optimizer blew the weights up) is seen by :func:`nonfinite_leaves` (one fused max-norm over
all the leaves' gradients, one host sync), and the next call's graph is hooked to locate it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from graphscope._tensors import outside_modes
from graphscope.model import OP, Events, NonFinite
from graphscope.tracer import Capture

__all__ = ["nonfinite_hooks"]


def nonfinite_hooks(
    cap: Capture, index: int, gid: str | None, events: Events, seen_at: int | None = None
) -> list[Any]:
    """Hook every op node of ``cap``; the first non-finite origin becomes a :class:`NonFinite`
    event of call ``index`` (``seen_at``: the earlier call whose gradients held it). Returns
    the handles (remove them after the call)."""
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
                        seen_at=seen_at,
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


def nonfinite_leaves(grads: Sequence[torch.Tensor | None]) -> tuple[str, list[int]] | None:
    """``(kind, positions)`` of the gradients holding NaN or Inf, or None when all are finite
    (one fused max-norm and one host sync for the common case)."""
    dense = [
        (i, g)
        for i, g in enumerate(grads)
        if g is not None and g.layout == torch.strided and g.is_floating_point() and g.numel()
    ]
    if not dense:
        return None
    try:
        norms = list(torch._foreach_norm([g for _, g in dense], float("inf")))
        if len({n.dtype for n in norms}) > 1:
            norms = [n.to(torch.float64) for n in norms]
        flags = torch.isfinite(torch.stack(norms))
        if bool(flags.all()):
            return None
        bad = [dense[int(k)] for k in (~flags).nonzero().flatten()]
    except Exception:
        bad = [(i, g) for i, g in dense if not _all_finite([g])]
        if not bad:
            return None
    return _nonfinite_kind([g for _, g in bad]), [i for i, _ in bad]
