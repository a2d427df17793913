"""Where a NaN or Inf first appears in a backward pass: hooks on a graph's op nodes, and a
cheap check of the leaves' gradients after every call.

Each hook sees an op's incoming gradients (``grad_outputs``) and the ones it computes
(``grad_inputs``); the first op whose results are non-finite while its inputs were finite is
where the NaN or Inf came from, unless the values that op read in the forward pass were already
non-finite: then the forward overflowed first (a float16 matmul past 65504 under autocast makes
the loss Inf or NaN, and the loss's backward is merely the first to turn it into a gradient), and
:func:`forward_origin` walks on toward the leaves, through the ops whose saved inputs hold NaN or
Inf, to the first op whose saved inputs are all finite: the one whose forward made it. The hooks
are removed when the call returns. They are installed
on the first capture of each distinct graph; a NaN that appears later (a repeated graph, after
the optimizer blew the weights up) is seen by :func:`nonfinite_leaves` (one fused max-norm over
all the leaves' gradients, one host sync), and the next call's graph is hooked to locate it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from graphscope._tensors import outside_modes
from graphscope.model import OP, Events, NonFinite, OpSite
from graphscope.recorder.guard import Guard
from graphscope.tracer import Capture

__all__ = ["nonfinite_hooks"]


def nonfinite_hooks(
    cap: Capture,
    index: int,
    gid: str | None,
    events: Events,
    seen_at: int | None = None,
    *,
    guard: Guard | None = None,
) -> list[Any]:
    """Hook every op node of ``cap``; the first non-finite origin becomes a :class:`NonFinite`
    event of call ``index`` (``seen_at``: the earlier call whose gradients held it). Returns
    the handles (remove them after the call). The hooks run inside the user's backward: an
    error of theirs goes to ``guard``, never into the backward."""
    seen = [False]
    g = cap.graph
    guard = guard or Guard()

    def make(nid: str) -> Callable[..., None]:
        def hook(grad_inputs: Sequence[Any], grad_outputs: Sequence[Any]) -> None:
            if seen[0]:
                return
            if not _all_finite(grad_inputs) and _all_finite(grad_outputs):
                seen[0] = True
                d = g.nodes[nid]
                forward = None
                try:
                    at = forward_origin(cap.fns[nid], cap.fns)
                    if at is not None:
                        o = g.nodes[at]
                        forward = OpSite(
                            at, str(o.get("name")), o.get("op"), o.get("file"), o.get("line")
                        )
                except Exception:  # never let the search break the user's backward
                    pass
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
                        api=d.get("op"),
                        forward=forward,
                    )
                )

        return hook

    handles = []
    for nid, fn in cap.fns.items():
        if g.nodes[nid].get("kind") != OP:
            continue
        try:
            handles.append(fn.register_hook(guard.hook("looking for a NaN", make(nid))))
        except Exception:
            continue
    return handles


_MAX_WALK = 4096  # nodes looked at by forward_origin


@outside_modes
def forward_origin(fn: Any, fns: dict[str, Any]) -> str | None:
    """The node id (in ``fns``) of the op whose forward first made a NaN/Inf that ``fn`` read,
    or None when the values ``fn`` saved were finite (its backward made it).

    From ``fn`` (which saved a non-finite value) toward the leaves, through ops that saved one
    too (their input was already non-finite) or saved nothing readable (a cast, a view, an add):
    the first op reached whose saved inputs are all finite made it (a float16 matmul that
    overflowed). Only ops whose backward has not run yet are read beyond ``fn`` (their saved
    tensors are still there); a slot saved under ``saved_tensors_hooks`` is never unpacked.
    """
    if _saved_state(fn)[0] is not False:
        return None
    ids = {id(f): nid for nid, f in fns.items()}
    stack = [f for f, _ in reversed(getattr(fn, "next_functions", ()))]
    seen: set[int] = set()
    while stack and len(seen) < _MAX_WALK:
        f = stack.pop()
        if f is None or id(f) in seen or id(f) not in ids:
            continue
        seen.add(id(f))
        finite, inputs_finite = _saved_state(f)
        if inputs_finite is True:
            return ids[id(f)]  # read finite values, handed on non-finite ones: made them
        if finite is True:
            continue  # a finite branch
        stack.extend(g for g, _ in reversed(getattr(f, "next_functions", ())))
    return None


def _saved_state(fn: Any) -> tuple[bool | None, bool | None]:
    """``(all saved finite, all saved inputs finite)`` for the floating tensors ``fn`` saved
    (inputs: every slot but ``result``); None where it saved none that can be read."""
    inputs: list[Any] = []
    results: list[Any] = []
    for attr in dir(fn):
        if not attr.startswith("_saved_"):
            continue
        try:
            raw = getattr(fn, "_raw" + attr)
            raws = raw if isinstance(raw, (list, tuple)) else [raw]
            if any(getattr(r, "unpack_hook", None) is not None for r in raws if r is not None):
                continue  # saved under saved_tensors_hooks: unpacking could re-run code
            value = getattr(fn, attr)
        except Exception:
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        floats = [
            v for v in values if isinstance(v, torch.Tensor) and v.is_floating_point() and v.numel()
        ]
        (results if attr.startswith("_saved_result") else inputs).extend(floats)
    in_ok = _all_finite(inputs) if inputs else None
    if not inputs and not results:
        return None, None
    all_ok = bool(in_ok is not False and _all_finite(results))
    return all_ok, in_ok


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
