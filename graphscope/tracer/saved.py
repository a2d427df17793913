"""Reading the tensors a backward node saved, without tripping torch's errors.

A stale saved tensor (modified in place after it was saved) raises when read: the message holds
both versions (autograd-notes §3.3), parsed into the entry. A freed one (released by an earlier
backward) raises too, and one saved under ``saved_tensors_hooks`` is never unpacked (that could
re-run the forward of a checkpoint). Entries are :class:`~graphscope.model.SavedEntry` dicts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from graphscope._tensors import Names, dtype_name, shape_of, storage_key, version_of
from graphscope.model import (
    SAVED_FREED,
    SAVED_HOOKED,
    SAVED_OK,
    SAVED_STALE,
    SAVED_UNKNOWN,
    InplaceWrite,
)
from graphscope.tracer.types import short_text

_STALE_RE = re.compile(
    r"\[(?P<ttype>torch\.\w+) \[(?P<shape>[^\]]*)\]\](?:, which is output (?P<out>\d+) of "
    r"(?P<node>[^,]+),)? is at version (?P<cur>\d+); expected version (?P<exp>\d+) instead"
)
#: the type of ``node._raw_saved_x`` (absent from old torch: then every slot takes the slow path)
_FREED_MARK = "after they have already been freed"
#: the type of ``node._raw_saved_x`` (absent from old torch: then every slot takes the slow path)
_SavedTensor: Any = getattr(torch._C._autograd, "SavedTensor", None)


def ctx_attrs(fn: Any) -> dict[str, str]:
    """Plain attributes a custom autograd.Function stored on its ctx (``ctx.k = 3``)."""
    out: dict[str, str] = {}
    try:
        items = vars(fn).items()
    except TypeError:
        return out
    for k, v in items:
        if k.startswith("_") or isinstance(v, torch.Tensor):
            continue
        if isinstance(v, (int, float, str, bool, type(None), tuple)):
            out[k] = short_text(v)
    return out


def inspect_slot(
    fn: Any,
    label: str,
    attr: str | None,
    inplace: Sequence[InplaceWrite] | None,
    names: Names | None,
    tensor_ids: Mapping[int, str],
    histories: list[tuple[dict[str, Any], Any]] | None = None,
) -> list[dict[str, Any]]:
    """The entries of one saved slot (several for a list of tensors). A stale entry's
    tensor's current ``grad_fn`` goes into ``histories`` (to find where its value came from)."""
    short = label.removeprefix("_saved_")
    raw_name = "_raw_saved_tensors" if attr is None else "_raw" + attr
    try:
        raw = getattr(fn, raw_name)
    except Exception:
        raw = None
    raws = list(raw) if isinstance(raw, (list, tuple)) else [raw]
    if raws and all(r is not None and getattr(r, "unpack_hook", None) is not None for r in raws):
        # saved under saved_tensors_hooks (checkpoint, offloading): unpacking could re-run code
        return [entry(short, SAVED_HOOKED)]
    try:
        value = fn.saved_tensors if attr is None else getattr(fn, attr)
    except RuntimeError as err:
        msg = str(err)
        m = _STALE_RE.search(msg)
        if m:
            e = entry(short, SAVED_STALE)
            e["version_saved"] = int(m["exp"])
            e["version_now"] = int(m["cur"])
            e["shape"] = tuple(int(s) for s in m["shape"].split(",") if s.strip())
            t = _raw_tensor(raws)
            if t is not None:
                if histories is not None:
                    histories.append((e, t.grad_fn))
                _link_tensor(e, t, names, tensor_ids)
                e["dtype"] = dtype_name(t.dtype)
                e["writes"] = _writes(inplace, storage_key(t), e["version_saved"], e["version_now"])
                if e["tensor_name"] is None and e["writes"] and inplace:
                    # a saved output (``sigmoid``'s result) is the tensor the user wrote to
                    by_index = {w.index: w for w in inplace}
                    named = [
                        by_index[i].name for i in e["writes"] if i in by_index and by_index[i].name
                    ]
                    e["tensor_name"] = named[-1] if named else None
            return [e]
        if _FREED_MARK in msg:
            return [entry(short, SAVED_FREED)]
        return [entry(short, SAVED_UNKNOWN, error=msg.splitlines()[0][:200])]
    except Exception as err:  # anything else: describe it, never break the walk
        return [entry(short, SAVED_UNKNOWN, error=f"{type(err).__name__}: {err}"[:200])]
    values = value if isinstance(value, (list, tuple)) else [value]
    out = []
    for i, v in enumerate(values):
        if not isinstance(v, torch.Tensor):
            continue
        e = entry(short if len(values) == 1 else f"{short}[{i}]", SAVED_OK)
        e["shape"] = shape_of(v)
        e["dtype"] = dtype_name(v.dtype)
        e["version_now"] = version_of(v)
        _link_tensor(e, v, names, tensor_ids)
        out.append(e)
    return out


def entry(name: str, status: str, **extra: Any) -> dict[str, Any]:
    e: dict[str, Any] = {
        "name": name,
        "status": status,
        "shape": None,
        "dtype": None,
        "version_saved": None,
        "version_now": None,
        "tensor": None,
        "tensor_name": None,
        "writes": (),
    }
    e.update(extra)
    return e


def _raw_tensor(raws: list[Any]) -> torch.Tensor | None:
    for r in raws:
        try:
            d = r.data if r is not None else None
        except Exception:
            d = None
        if isinstance(d, torch.Tensor):
            return d
    return None


def _link_tensor(
    e: dict[str, Any], t: torch.Tensor, names: Names | None, tensor_ids: Mapping[int, str]
) -> None:
    if names is None:
        return
    e["tensor_name"] = names.get(t)
    e["tensor"] = tensor_ids.get(id(t))


def _writes(
    inplace: Sequence[InplaceWrite] | None, storage: int | None, saved: int, now: int
) -> list[int]:
    """Indexes of the recorded in-place writes that moved this storage from ``saved`` on."""
    if not inplace or storage is None:
        return []
    return [w.index for w in inplace if w.storage == storage and saved < w.version_after <= now]
