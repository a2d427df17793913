"""Reading the tensors a backward node saved, without tripping torch's errors.

A stale saved tensor (modified in place after it was saved) raises when read: the message holds
both versions (autograd-notes §3.3), parsed into the entry. A freed one (released by an earlier
backward) raises too, and one saved under ``saved_tensors_hooks`` is never unpacked (that could
re-run the forward of a checkpoint). Entries are :class:`~graphscope.model.SavedEntry` dicts.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from graphscope._tensors import (
    _DTYPE_NAMES,
    dtype_name,
    shape_of,
    storage_key,
    version_of,
)
from graphscope.model import (
    HOLDS_ACTIVATION,
    HOLDS_INPUT,
    HOLDS_PARAM,
    SAVED_FREED,
    SAVED_HOOKED,
    SAVED_OK,
    SAVED_STALE,
    SAVED_UNKNOWN,
    TENSOR,
    InplaceWrite,
)
from graphscope.names import Names
from graphscope.tracer.silent import SilentIndex
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
    storage_of: Callable[[torch.Tensor, str], int | None] | None = None,
) -> list[dict[str, Any]]:
    """The entries of one saved slot (several for a list of tensors). A stale entry's
    tensor's current ``grad_fn`` goes into ``histories`` (to find where its value came from);
    ``storage_of`` gives each entry's ``storage`` index."""
    short = label.removeprefix("_saved_")
    raw_name = "_raw_saved_tensors" if attr is None else "_raw" + attr
    try:
        raw = getattr(fn, raw_name)
    except Exception:
        raw = None
    raws = list(raw) if isinstance(raw, (list, tuple)) else [raw]
    if raws and all(r is not None and getattr(r, "unpack_hook", None) is not None for r in raws):
        # saved under saved_tensors_hooks (checkpoint, offloading): unpacking could re-run code
        e = entry(short, SAVED_HOOKED)
        if storage_of is not None:
            kept = [storage_of(t, "") for t in checkpoint_inputs(raws[0].unpack_hook)]
            if kept:
                e["storages"] = [k for k in kept if k is not None]
        return [e]
    try:
        value = fn.saved_tensors if attr is None else getattr(fn, attr)
    except RuntimeError as err:
        msg = str(err)
        m = _STALE_RE.search(msg)
        if m:
            e = _stale_entry(short, m, raws, inplace, names, tensor_ids, histories)
            if storage_of is not None:
                t = _raw_tensor(raws)
                e["storage"] = storage_of(t, short) if t is not None else None
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
        if storage_of is not None:
            e["storage"] = storage_of(v, short)
        _link_tensor(e, v, names, tensor_ids)
        out.append(e)
    return out


def held_elsewhere(tensors: list[torch.Tensor]) -> list[bool]:
    """For each tensor: does anything but the graph reference its Python object (a variable
    of the user's, a module's buffer)? Its references are compared with those of a tensor
    only a backward node holds, counted through this same function (:data:`_ALONE`)."""
    global _ALONE
    if _ALONE < 0:
        _ALONE = _alone()
    alone = _ALONE
    out = []
    for t in tensors:
        out.append(sys.getrefcount(t) > alone)
    return out


def _alone() -> int:
    """The references :func:`held_elsewhere` counts to a tensor only a backward node holds
    (4 on CPython 3.11: the list, the loop variable, getrefcount's argument, and the one the
    tensor's C++ side keeps for its Python object), measured once, when first needed."""
    try:
        with torch.enable_grad(), torch.inference_mode(False), _no_modes(), _NoFunctionModes():
            y = torch.ones(2, requires_grad=True) * torch.ones(2)  # MulBackward0 saves other
        fn: Any = y.grad_fn
        ts = [fn._saved_other]
        n = 0
        for t in ts:
            n = sys.getrefcount(t)
        return n
    except Exception:  # an odd build: the CPython count
        return 4


def _no_modes() -> Any:
    """The user's TorchFunction/TorchDispatch modes off while we measure."""
    from torch.utils._python_dispatch import _disable_current_modes

    return _disable_current_modes()


_ALONE = -1  # set by held_elsewhere's first call
_NoFunctionModes: Any = torch._C.DisableTorchFunction


def checkpoint_inputs(unpack_hook: Any) -> list[torch.Tensor]:
    """The tensors a non-reentrant ``torch.utils.checkpoint`` keeps to run its region again
    (its inputs), read from the unpack hook of a tensor saved inside the region without
    unpacking anything (``frame.saved_args``: autograd-notes §3.3); [] for other hooks."""
    if not getattr(unpack_hook, "__module__", "").startswith("torch.utils.checkpoint"):
        return []
    try:
        cells = dict(zip(unpack_hook.__code__.co_freevars, unpack_hook.__closure__, strict=True))
        args = cells["frame"].cell_contents.saved_args
        out = []
        for a in args:
            t = a.data if _SavedTensor is not None and isinstance(a, _SavedTensor) else a
            if isinstance(t, torch.Tensor):
                out.append(t)
        return out
    except Exception:  # another torch's checkpoint: nothing counted
        return []


def _stale_entry(
    short: str,
    m: re.Match[str],
    raws: list[Any],
    inplace: Sequence[InplaceWrite] | None,
    names: Names | None,
    tensor_ids: Mapping[int, str],
    histories: list[tuple[dict[str, Any], Any]] | None,
) -> dict[str, Any]:
    """The entry of a stale slot, from torch's message (``m``) and the raw saved tensor."""
    e = entry(short, SAVED_STALE)
    e["version_saved"] = int(m["exp"])
    e["version_now"] = int(m["cur"])
    e["shape"] = tuple(int(s) for s in m["shape"].split(",") if s.strip())
    t = _raw_tensor(raws)
    if t is None:
        return e
    if histories is not None:
        histories.append((e, t.grad_fn))
    _link_tensor(e, t, names, tensor_ids)
    e["dtype"] = dtype_name(t.dtype)
    e["writes"] = _writes(inplace, storage_key(t), e["version_saved"], e["version_now"])
    if e["tensor_name"] is None and e["writes"] and inplace:
        # a saved output (``sigmoid``'s result) is the tensor the user wrote to
        by_index = {w.index: w for w in inplace}
        named = [by_index[i].name for i in e["writes"] if i in by_index and by_index[i].name]
        e["tensor_name"] = named[-1] if named else None
    return e


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


_NONE: tuple[Any, ...] = ()
_MAX_WRITES = 64  # in-place writes followed back from a stale tensor to its saved value


class SavedReader:
    """Reads the saved tensors of each op during one walk, and links them to the walk's
    tensor nodes once it is over (a saved tensor's node may come later in the walk)."""

    def __init__(
        self,
        names: Names,
        inplace: Sequence[InplaceWrite],
        tensor_ids: Mapping[int, str],
        silent: SilentIndex | None = None,
        memory: bool = False,
    ) -> None:
        self.names = names
        #: record each saved tensor's storage (``storage``, :meth:`storage_table`): the
        #: memory figures, at a cost per saved tensor (watch, render: yes; trace(): asked)
        self.memory = memory
        self.silent = silent  # writes that bypass the version counter (``.data``, NumPy, ...)
        self.inplace = inplace
        self.tensor_ids = tensor_ids  # the walk's id(tensor) -> node id, filled as it goes
        #: entries whose tensor may get its node later in the walk: ``(entry, id(tensor))``
        self._pending: list[tuple[dict[str, Any], int | None]] = []
        #: stale entries: (the op that saved it, entry, the tensor's grad_fn now)
        self._stale: list[tuple[str, dict[str, Any], Any]] = []
        self._histories: list[tuple[dict[str, Any], Any]] = []  # filled by inspect_slot
        #: the storages saved tensors live in: data pointer -> index into ``storages``
        self._storage_at: dict[int, int] = {}
        #: ``(the first saved tensor seen in it, the storage, its slot)``, by index: read
        #: once the walk is over (:meth:`storage_table`)
        self._fresh: list[tuple[torch.Tensor, Any, str]] = []

    def read_custom(self, fn: Any, nid: str) -> list[dict[str, Any]]:
        """The ``saved_tensors`` of a custom ``autograd.Function``'s node ``nid``."""
        entries = inspect_slot(
            fn,
            "saved_tensors",
            None,
            self.inplace,
            self.names,
            self.tensor_ids,
            self._histories,
            self.storage_of if self.memory else None,
        )
        self._note(entries, nid)
        return entries

    def read(self, fn: Any, info: Any, nid: str, seq: int = -1) -> list[dict[str, Any]]:
        """The saved tensors of a built-in node ``nid``: a plain saved tensor is read
        directly; lists, hooked, stale and freed ones go through :func:`inspect_slot`.

        Reading a slot saved under ``saved_tensors_hooks`` (checkpoint, offloading) would run
        its unpack hook, so a slot is read only once its ``_raw`` twin shows no hook. A node
        saves all its tensors at once, under the same default hooks, except wrapped Python
        numbers (0-dim), which never get hooks: so once one slot holding a tensor of 1+ dims
        has no hook, neither has any other slot of the node and their checks are skipped.
        """
        out: list[dict[str, Any]] = []
        name_of = self.names.name
        tensor_ids = self.tensor_ids
        dtypes = _DTYPE_NAMES
        saved_type = _SavedTensor
        storage_at = self._storage_at
        fresh = self._fresh
        memory = self.memory
        unhooked = False  # the node is known to have been saved without hooks
        for short, raw_attr, attr in info.raw_slots:
            try:
                if not unhooked:
                    raw = getattr(fn, raw_attr)
                    if type(raw) is not saved_type or raw.unpack_hook is not None:
                        raise LookupError  # a list, or hooked: the slow path says which
                v = getattr(fn, attr)  # raises if stale or freed
                key = id(v)
                dtype = v.dtype
                shape = tuple(v.shape)
                tid = tensor_ids.get(key)
                name = name_of.get(key)
                e = {
                    "name": short,
                    "status": SAVED_OK,
                    "shape": shape,
                    "dtype": dtypes.get(dtype) or dtype_name(dtype),
                    "version_saved": None,
                    "version_now": v._version,
                    "tensor": tid,
                    "tensor_name": name,
                    "writes": _NONE,
                }
                if memory:
                    st = v.untyped_storage()  # the storage, as the allocator sees it
                    ptr = st.data_ptr()
                    k = storage_at.get(ptr)
                    if k is None:  # first seen: what it holds is read after the walk
                        k = storage_at[ptr] = len(fresh)
                        fresh.append((v, st, short))
                    e["storage"] = k
            except Exception:  # not a plain tensor (None, list, stale, freed, odd layout, ...)
                slow = inspect_slot(
                    fn,
                    attr,
                    attr,
                    self.inplace,
                    self.names,
                    tensor_ids,
                    self._histories,
                    self.storage_of if memory else None,
                )
                self._note(slow, nid)
                out.extend(slow)
                continue
            if shape:
                unhooked = True
            if tid is None and name is not None:
                self._pending.append((e, key))
            if self.silent is not None and seq >= 0 and self.silent.mark(e, v, seq):
                base = v._base  # a view the op made of a named tensor (``weight.t()``)
                if name is None and base is not None:
                    e["tensor_name"] = name_of.get(id(base))
            out.append(e)
        return out

    def storage_of(self, v: torch.Tensor, slot: str = "") -> int | None:
        """The index of the storage ``v`` (saved in ``slot``) lives in (None when it has none:
        sparse, meta...)."""
        try:
            st = v.untyped_storage()
            ptr = st.data_ptr()
        except Exception:
            return None
        k = self._storage_at.get(ptr)
        if k is None:
            k = self._storage_at[ptr] = len(self._fresh)
            self._fresh.append((v, st, slot))
        return k

    def storage_table(
        self, ids: Mapping[Any, str]
    ) -> list[tuple[int, str, str | None, int | None]]:
        """Each storage seen, as the graph keeps it: its bytes (the whole storage, however
        little of it a saved view shows), what it holds, and the node of the op that made the
        first tensor seen in it (None when the walk did not reach it). Forgets the tensors.

        What it holds: an activation when the tensor (or the tensor it views) has a grad_fn,
        or when the op saved it as one of its own outputs (slot ``result``, ``result1``: a
        max-pool's indices, a layer norm's mean); a parameter when it is a leaf that requires
        grad; else, without autograd history, an input (data, a buffer, a constant) when the
        user's program still holds it (more references than the graph's), and an activation
        made without grad when only the graph does (a dropout mask)."""
        out: list[tuple[int, str, str | None, int | None]] = []
        no_history: list[int] = []
        tensors: list[torch.Tensor] = []
        act, param, inp = HOLDS_ACTIVATION, HOLDS_PARAM, HOLDS_INPUT
        get = ids.get
        for v, st, slot in self._fresh:
            fn = v.grad_fn
            if fn is not None:  # made by an op, or a view of a leaf (``weight.t()``)
                t = v._base
                if t is None or t.grad_fn is not None:
                    by = get(fn)
                    out.append((st.nbytes(), act, by, v.output_nr if by is not None else None))
                    continue
            elif v.requires_grad:  # a leaf that requires grad (a view of one has a grad_fn)
                out.append((st.nbytes(), param, None, None))
                continue
            else:
                t = v._base if v._is_view() else v
            if t is None or t.requires_grad:
                out.append((st.nbytes(), param, None, None))
            elif slot.startswith("result"):
                out.append((st.nbytes(), act, None, None))
            else:
                no_history.append(len(out))
                tensors.append(t)
                out.append((st.nbytes(), inp, None, None))
        v = st = t = fn = None  # type: ignore[assignment]
        self._fresh.clear()
        self._storage_at.clear()
        if no_history:  # only the list holds them now
            for i, held in zip(no_history, held_elsewhere(tensors), strict=True):
                if not held:
                    n, _, by, nr = out[i]
                    out[i] = (n, HOLDS_ACTIVATION, by, nr)
        return out

    def _note(self, entries: list[dict[str, Any]], nid: str) -> None:
        for e in entries:
            if e["tensor"] is None and e["tensor_name"] is not None:
                self._pending.append((e, None))
        if self._histories:
            self._stale.extend((nid, e, fn) for e, fn in self._histories)
            self._histories.clear()

    def link(
        self,
        nodes: Mapping[str, Mapping[str, Any]],
        ids: Mapping[Any, str],
        out_node: Mapping[tuple[Any, int], str],
        edges: Sequence[tuple[Any, ...]],
    ) -> None:
        """After the walk: point entries at their tensor's node (the same tensor, else the
        tensor node of the same name), and set where each stale entry's value came from."""
        by_name: dict[str, str] | None = None
        for e, key in self._pending:
            e["tensor"] = self.tensor_ids.get(key) if key is not None else None
            if e["tensor"] is not None:
                continue
            if by_name is None:
                by_name = {}
                for n, d in nodes.items():
                    if d["kind"] == TENSOR and d["name"] is not None:
                        by_name.setdefault(d["name"], n)
            e["tensor"] = by_name.get(e["tensor_name"])
        if self._stale:
            _link_stale(self._stale, ids, out_node, edges)
        self._pending.clear()
        self._stale.clear()


def _link_stale(
    stale: list[tuple[str, dict[str, Any], Any]],
    ids: Mapping[Any, str],
    out_node: Mapping[tuple[Any, int], str],
    edges: Sequence[tuple[Any, ...]],
) -> None:
    """Set ``source`` of each stale entry: the node whose edge into the op that saved it
    carries the value. The in-place write gave the tensor a new history (``a.add_(1)`` after
    ``a`` was saved: ``a.grad_fn`` is now the write's node, whose first input is what ``a`` was
    before): follow it back to a node of this graph."""
    into: dict[str, set[str]] = {nid: set() for nid, _, _ in stale}
    for src, dst, *_ in edges:
        if dst in into:
            into[dst].add(src)
    for nid, e, fn in stale:
        for _ in range(_MAX_WRITES):
            if fn is None or fn in ids:
                break
            nexts = fn.next_functions
            fn = nexts[0][0] if nexts else None
        found = None
        if fn is not None and fn in ids:
            for cand in (e.get("tensor"), out_node.get((fn, 0)), ids[fn]):
                if cand is not None and cand in into[nid]:
                    found = cand
                    break
        e["source"] = found
