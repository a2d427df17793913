"""Saved tensors changed behind autograd's back: writes that went around the version counter.

torch notices an in-place write into a saved tensor through the version counter the tensor
shares with its views. A write through ``.data``, through ``set_()`` onto the same storage, into
a NumPy array from ``.numpy()`` or into an ``untyped_storage()`` goes around it: backward runs and
silently uses the changed values. The recorder sees the writes made by torch calls
(:class:`~graphscope.model.InplaceWrite`, with the storage written and the sequence counter) and
the aliases handed out (:class:`~graphscope.model.AliasExport`, with a checksum of the storage);
:class:`SilentIndex` holds those made since the last backward call, by storage, and the walk
asks it about each plain saved tensor: one saved by a node numbered below the write (the node
existed before it) whose storage was written, or whose checksum changed, was modified silently.

Reading a saved tensor's storage pointer and checksumming its bytes change nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from graphscope._tensors import storage_digest, storage_key
from graphscope.model import SAVED_STALE, AliasExport, InplaceWrite

__all__ = ["SilentIndex"]


class SilentIndex:
    """Writes and alias exports made after ``floor`` (the sequence counter at the end of the
    last backward call), by storage."""

    def __init__(
        self, writes: Sequence[InplaceWrite], exports: Sequence[AliasExport], floor: int
    ) -> None:
        self._writes: dict[int, list[InplaceWrite]] = {}
        self._exports: dict[int, list[AliasExport]] = {}
        for w in writes:
            if w.seq > floor and w.raised is None and w.storage >= 0:
                self._writes.setdefault(w.storage, []).append(w)
        for x in exports:
            if x.seq > floor:
                self._exports.setdefault(x.storage, []).append(x)

    def __bool__(self) -> bool:
        return bool(self._writes or self._exports)

    def mark(self, entry: dict[str, Any], value: torch.Tensor, seq: int) -> bool:
        """Mark ``entry`` (a saved tensor ``value`` of the node numbered ``seq``, read without
        error) stale and ``silent`` when it was changed after ``seq`` without torch knowing;
        returns whether it was."""
        key = storage_key(value)
        if key is None:
            return False
        writes = [w.index for w in self._writes.get(key, ()) if w.seq > seq]
        exports = [
            x.index for x in self._exports.get(key, ()) if x.seq > seq and _changed(x, value)
        ]
        if not writes and not exports:
            return False
        entry["status"] = SAVED_STALE
        entry["silent"] = True
        entry["version_saved"] = entry.get("version_now")
        entry["writes"] = writes
        entry["exports"] = exports
        return True


def _changed(x: AliasExport, value: torch.Tensor) -> bool:
    """Did the storage change since the export? (``data =``: replaced, so yes.)"""
    if x.api == "data =":
        return True
    return x.digest is not None and storage_digest(value) != x.digest
