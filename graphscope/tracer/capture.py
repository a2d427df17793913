"""A graph plus the torch objects behind it, for as long as ``watch`` needs them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from graphscope._gc import gc_paused
from graphscope._tensors import grad_summaries_full, safe_grad, version_of
from graphscope.model import AutogradGraph

__all__ = ["Capture", "Provenance"]

#: ``lookup(seq) -> (api, file, line, module)`` for the forward call that made node ``seq``.
Provenance = Callable[[int], "tuple[str | None, str | None, int | None, str | None] | None"]


@dataclass
class Capture:
    """A graph plus the torch objects behind it, kept only until :meth:`release`.

    ``watch`` keeps a Capture across one backward call so it can read the gradients and
    freed flags afterwards (:meth:`refresh`), then releases it.
    """

    graph: AutogradGraph
    fns: dict[str, Any] = field(default_factory=dict)  # node id -> backward node
    tensors: dict[str, torch.Tensor] = field(default_factory=dict)  # node id -> tensor

    def refresh(self) -> None:
        """Re-read gradients and versions after a backward call. Saved tensors keep the state
        they had when captured (what backward used), not "freed": freeing is normal."""
        with gc_paused():
            g = self.graph
            items = list(self.tensors.items())
            summaries = grad_summaries_full([safe_grad(t) for _, t in items])
            for (nid, t), summary in zip(items, summaries, strict=True):
                d = g.nodes[nid]
                d["grad"] = summary
                d["version"] = version_of(t)

    def release(self) -> None:
        self.fns.clear()
        self.tensors.clear()
