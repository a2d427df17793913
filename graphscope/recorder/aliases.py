"""Calls that cut the graph or hand out an alias autograd does not track.

* ``t.detach()`` of a tensor that requires grad, in the user's code: a
  :class:`~graphscope.model.GradOff` (why a later loss may have no graph); so are
  ``t.argmax()``, ``argmin()`` and ``argsort()`` with gradients on (integer indices: a loss
  computed from them, such as an accuracy, has no graph).
* ``t.numpy()`` and ``t.untyped_storage()``, in the user's code: the array or storage shares
  ``t``'s memory, and writes through it bump no version counter and make no call the recorder
  sees. An :class:`~graphscope.model.AliasExport` keeps a CRC-32 of the storage's bytes (CPU
  storages up to 64 MB, read in place without a torch call), so that the
  capture at the next backward call can tell whether a tensor saved before the export changed.
* ``t.data = other``: ``t`` now uses another storage, behind the back of anything that saved
  ``t``: an export without a checksum (it changed by definition).

The latest export per line is kept (a metrics line that calls ``.numpy()`` every step does not
grow the list). Nothing here changes what the call returns.
"""

from __future__ import annotations

from collections.abc import Callable
from types import FrameType
from typing import Any

import torch

from graphscope._tensors import outside_modes, storage_digest, storage_key
from graphscope.model import AliasExport, Events
from graphscope.recorder.callsite import call_from
from graphscope.recorder.gradmode import GradOffs
from graphscope.recorder.sites import Sites

__all__ = ["Aliases"]

_get_seq = torch._C._autograd._get_sequence_nr
#: calls whose result has no graph even when their input has one (GradOff events)
_CUTS = frozenset({"detach", "argmax", "argmin", "argsort"})
_Tensor = torch.Tensor


class Aliases:
    """Runs the alias-making calls for the recorder's mode (see the module docstring)."""

    def __init__(
        self,
        events: Events,
        sites: Sites,
        offs: GradOffs,
        name: Callable[[torch.Tensor, bool], str | None],
        wrote: Callable[[], None],
    ) -> None:
        self.events = events
        self.sites = sites
        self.offs = offs
        self.name = name
        self.wrote = wrote  # tells the recorder a write may have happened now
        self._at: dict[tuple[str, str | None, int | None], int] = {}
        self.grad_on = True

    def call(
        self,
        func: Any,
        api: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        frame: FrameType,
    ) -> Any:
        self.grad_on = torch.is_grad_enabled()  # the user's grad mode (ours is off in _after)
        out = call_from(frame, func, args, kwargs)  # under the user's own modes and frame
        try:
            t = args[0] if args and isinstance(args[0], _Tensor) else None
            if t is not None:
                self._after(api, t)
        except Exception:  # never let our bookkeeping break the user's call
            pass
        return out

    @outside_modes
    def _after(self, api: str, t: torch.Tensor) -> None:
        if api in _CUTS and not (t.requires_grad and self.grad_on):
            return
        file, line, library = self.sites.site()
        if library or file is None or line is None:
            return
        if api in _CUTS:
            self.offs.record(api, file, line, self.name(t, True))
            return
        key = storage_key(t)
        if key is None:
            return
        self._export(api, file, line, key, None if api == "data =" else storage_digest(t))

    def _export(self, api: str, file: str, line: int, storage: int, value: int | None) -> None:
        site = (api, file, line)
        pos = self._at.get(site)
        index = len(self.events.exports) if pos is None else pos
        x = AliasExport(index, api, file, line, storage, _get_seq(), value)
        if pos is None:
            self._at[site] = index
            self.events.exports.append(x)
        else:
            self.events.exports[pos] = x
        self.wrote()
