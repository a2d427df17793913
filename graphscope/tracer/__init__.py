"""Walk a tensor's ``grad_fn`` graph into an :class:`~graphscope.model.AutogradGraph` of plain values.

>>> import torch, graphscope
>>> w = torch.tensor([1.], requires_grad=True); x = torch.tensor([2.], requires_grad=True)
>>> a = torch.add(w, x); b = torch.add(w, 1); y = torch.mul(a, b)
>>> g = graphscope.trace(y)
>>> [g.nodes[n]["label"] for n in g]
['y', 'MulBackward0', 'AddBackward0', 'a', 'w', 'x', 'AddBackward0', 'b']

The walk (:mod:`~graphscope.tracer.walk`) is iterative (a 100,000-deep chain is fine), reads
saved tensors without tripping torch's errors (:mod:`~graphscope.tracer.saved`: stale ones are
marked with both versions, freed ones marked freed), and keeps no tensor and no backward node
once it returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch

from graphscope._gc import gc_paused
from graphscope._tensors import user_frame
from graphscope.errors import TraceError
from graphscope.model import AutogradGraph, InplaceWrite
from graphscope.names import Names, module_name
from graphscope.tracer.capture import Capture, Provenance
from graphscope.tracer.freeing import KEY, SPACING, protect, protect_walked
from graphscope.tracer.silent import SilentIndex
from graphscope.tracer.walk import Walker

__all__ = [
    "trace",
    "Capture",
    "capture",
    "Provenance",
    "SilentIndex",
    "protect",
    "SPACING",
    "check_params",
]


def trace(
    *roots: torch.Tensor,
    params: Any = None,
    names: Mapping[str, torch.Tensor] | None = None,
    memory: bool = False,
) -> AutogradGraph:
    """Trace the autograd graph behind ``roots`` into plain data.

    ``params``: a module, a ``{name: tensor}`` mapping or ``(name, tensor)`` pairs; their
    names label the leaves (``model.fc.weight`` for ``params=model``), and those the graph
    does not reach are added greyed (``reached=False``); the ops get the module of the
    parameters they read (:mod:`~graphscope.tracer.membership`). ``names``: ``{"loss": loss}``
    overrides every other name. Otherwise tensors are named after the caller's variables.
    ``memory``: also record the storage each saved tensor lives in, for the memory figures
    (:mod:`graphscope.memory`: what the graph holds for backward, by line and module, and
    checkpointing advice); it costs a little per saved tensor, so a plain trace skips it
    (``watch``, ``graphscope render`` and ``graphscope.render(loss)`` record it).
    """
    tensors = _check_roots(roots)
    table = Names()
    if names is not None and not isinstance(names, Mapping):
        raise TraceError(
            f"names must be a dict such as {{'loss': loss}} (got {type(names).__name__})"
        )
    for n, t in (names or {}).items():
        if not isinstance(t, torch.Tensor):
            raise TraceError(f"names[{n!r}] must be a tensor (got {type(t).__name__})")
        table.add(n, t)
    with gc_paused():
        frame = user_frame()
        candidates: list[int] = []
        if params is not None:
            checked = check_params(params)
            table.add_params(checked, _prefix(checked, frame))
            candidates = [k for k in table.name if k in table.params]
        table.add_frame(frame)
        cap = capture(tensors, table, unreached=candidates, infer=True, memory=memory)
    cap.release()
    return cap.graph


def _prefix(params: Any, frame: Any) -> str:
    """``"model."`` for ``params=model`` when the caller holds it as ``model`` (``model.encoder.``
    for a submodule): the name ``watch()``'s spans give the same module
    (:func:`graphscope.names.module_name`, one function for both)."""
    if not isinstance(params, torch.nn.Module):
        return ""
    name = module_name(frame, params)
    return name + "." if name is not None else ""


def check_params(params: Any) -> Any:
    """``params`` as given, once it is a module, a mapping or (name, tensor) pairs."""
    if isinstance(params, (torch.nn.Module, Mapping)):
        return params
    if isinstance(params, (str, bytes)) or not isinstance(params, Iterable):
        raise TraceError(
            "params must be a module (params=model), a {name: tensor} dict or (name, tensor) "
            f"pairs such as model.named_parameters() (got {type(params).__name__})"
        )
    pairs = list(params)
    for p in pairs:
        if not (isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str)):
            raise TraceError(
                "params given as a sequence must hold (name, tensor) pairs, as "
                f"model.named_parameters() does (got an item {type(p).__name__})"
            )
    return pairs


def _check_roots(roots: Sequence[Any]) -> list[torch.Tensor]:
    if not roots:
        raise TraceError("trace() needs at least one tensor, e.g. graphscope.trace(loss)")
    out = []
    for i, r in enumerate(roots):
        if isinstance(r, (list, tuple)):
            out.extend(_check_roots(r))
            continue
        if not isinstance(r, torch.Tensor):
            raise TraceError(f"root {i} must be a torch.Tensor (got {type(r).__name__})")
        if r.grad_fn is None and not r.requires_grad:
            raise TraceError(
                f"root {i} (shape {tuple(r.shape)}) does not require grad and has no grad_fn, so "
                "it has no autograd graph; was it computed under torch.no_grad() or detached? "
                "Set requires_grad=True on the inputs you want gradients for."
            )
        out.append(r)
    return out


def capture(
    roots: Sequence[torch.Tensor],
    names: Names,
    *,
    provenance: Provenance | None = None,
    inplace: Sequence[InplaceWrite] = (),
    unreached: Iterable[int] = (),
    keep: bool = False,
    silent: SilentIndex | None = None,
    infer: bool = False,
    memory: bool = False,
) -> Capture:
    """Walk from ``roots``. With ``keep`` the Capture holds the torch objects for ``refresh``;
    ``silent`` marks saved tensors written behind autograd's back (:mod:`~graphscope.tracer.silent`);
    ``infer`` gives ops the module of the parameters they read (:mod:`~graphscope.tracer.infer`).
    The walk gives the graph's nodes Python wrappers; :func:`protect` makes sure torch can
    still free the graph however deep it is (autograd-notes §12)."""
    with gc_paused():  # the walk allocates many small containers: collections would cost ~40%
        walker = Walker(names, provenance, inplace, keep, silent, infer, memory)
        cap = walker.run(roots, unreached)
        if walker.structure is None:  # shallow (returns at once), or an edge the walk lacks
            protect(roots, nodes=len(walker.ids))
        elif not _held(roots):
            fns = [r.grad_fn for r in roots if r.grad_fn is not None]
            protect_walked(*walker.structure, fns)
    return cap


def _held(roots: Sequence[torch.Tensor]) -> bool:
    """Every root's node holds its anchors already (``watch`` protected the graph before
    capturing it): nothing to place again."""
    fns: list[Any] = [r.grad_fn for r in roots if r.grad_fn is not None]
    try:
        return bool(fns) and all(KEY in fn.metadata for fn in fns)  # a dict, not a method
    except Exception:
        return False
