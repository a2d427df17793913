"""The walk: a tensor's ``grad_fn`` graph into an :class:`~graphscope.model.AutogradGraph`.

Iterative (a 100,000-deep chain is fine) and written for speed (a few µs per node): per-type
facts are cached (:mod:`~graphscope.tracer.types`), saved tensors take a fast path when they
are plain (:mod:`~graphscope.tracer.saved` for the rest), and the graph is handed to networkx
in one batch at the end.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Any

import torch

from graphscope._tensors import (
    _DTYPE_NAMES,
    Names,
    dtype_name,
    grad_summaries_full,
    shape_of,
    version_of,
)
from graphscope.model import (
    OP,
    ROLE_LEAF,
    ROLE_NAMED,
    ROLE_PARAM,
    ROLE_RETAINED,
    ROLE_ROOT,
    SAVED_FREED,
    SAVED_OK,
    TENSOR,
    AutogradGraph,
    InplaceWrite,
)
from graphscope.tracer.capture import Capture, Provenance
from graphscope.tracer.saved import _SavedTensor, ctx_attrs, inspect_slot
from graphscope.tracer.types import (
    TYPE_INFO,
    TypeInfo,
    attr_text,
    display_name,
    is_opaque,
    type_info,
)

__all__ = ["Walker"]

_SEQ_NONE = (1 << 64) - 1
#: the empty sequence every empty list-valued key shares (no allocation, nothing for the GC)
_NONE: tuple[Any, ...] = ()
_MAX_WRITES = 64  # in-place writes followed back from a stale tensor to its saved value


class Walker:
    """One walk. The loop is written for speed (≈ a few µs per node): per-type facts are
    cached, saved tensors take a fast path when they are plain, and the graph is handed to
    networkx as finished dictionaries."""

    def __init__(
        self,
        names: Names,
        provenance: Provenance | None,
        inplace: Sequence[InplaceWrite],
        keep: bool,
    ) -> None:
        self.names = names
        self.provenance = provenance
        self.inplace = inplace
        self.keep = keep
        self.g = AutogradGraph()
        self.cap = Capture(self.g)
        self.nodes: dict[str, dict[str, Any]] = {}
        self.ids: dict[Any, str] = {}  # backward node -> node id
        self.tensor_ids: dict[int, str] = {}  # id(tensor) -> node id
        self.outputs: dict[Any, list[tuple[int, int]]] = {}  # fn -> [(output_nr, id(tensor))]
        self.out_node: dict[tuple[Any, int], str] = {}  # (fn, output_nr) -> tensor node id
        self.root_keys: set[int] = set()
        self.grads: list[tuple[str, torch.Tensor]] = []  # (node id, .grad) to summarize
        #: stale saved entries: (the op that saved it, entry, the tensor's grad_fn now)
        self.stale: list[tuple[str, dict[str, Any], Any]] = []
        self.histories: list[tuple[dict[str, Any], Any]] = []  # filled by inspect_slot
        #: saved entries whose tensor may get its node later in the walk: ``(entry, id(tensor))``
        self.pending: list[tuple[dict[str, Any], int | None]] = []

    # tensor nodes ----------------------------------------------------------------------------

    def _add_tensor(self, t: torch.Tensor, role: str, accumulated: bool = False) -> str:
        """The node of tensor ``t`` (made once). ``accumulated``: ``t`` is an AccumulateGrad
        node's variable, a leaf that requires grad by construction (four reads fewer)."""
        key = id(t)
        nid = self.tensor_ids.get(key)
        if nid is not None:
            return nid
        nid = f"n{len(self.nodes)}"
        self.tensor_ids[key] = nid
        names = self.names
        name = names.name.get(key)
        if accumulated:
            is_leaf, retains, requires_grad, fn = True, False, True, None
        else:
            is_leaf, retains, requires_grad = bool(t.is_leaf), bool(t.retains_grad), None
            fn = t.grad_fn
        if role == ROLE_LEAF and (key in names.params or isinstance(t, torch.nn.Parameter)):
            role = ROLE_PARAM
        grad = t.grad if is_leaf or retains else None
        dtype = t.dtype
        shape = shape_of(t)
        aliases = names.aliases.get(key)
        self.nodes[nid] = {
            "kind": TENSOR,
            "label": name if name is not None else _shape_label(shape),
            "name": name,
            "aliases": list(aliases) if aliases else _NONE,
            "role": role,
            "shape": shape,
            "dtype": _DTYPE_NAMES.get(dtype) or dtype_name(dtype),
            "device": "cpu" if t.is_cpu else str(t.device),
            "requires_grad": bool(t.requires_grad) if requires_grad is None else requires_grad,
            "is_leaf": is_leaf,
            "retains_grad": retains,
            "grad_fn": fn.name() if fn is not None else None,
            "version": version_of(t),
            "grad": None,  # summarized in one batch at the end of the walk
            "grad_history": _NONE,
            "reached": True,
            "module": names.param_module.get(key),
        }
        if grad is not None:
            self.grads.append((nid, grad))
        if self.keep:
            self.cap.tensors[nid] = t
        return nid

    def _role_of(self, t: torch.Tensor) -> str:
        if id(t) in self.root_keys:
            return ROLE_ROOT
        if t.retains_grad:
            return ROLE_RETAINED
        return ROLE_NAMED

    # the walk --------------------------------------------------------------------------------

    def run(self, roots: Sequence[torch.Tensor], unreached: Iterable[int]) -> Capture:
        self.root_keys = {id(r) for r in roots}
        for fn, nr, key in self.names.non_leaf_outputs():
            self.outputs.setdefault(fn, []).append((nr, key))
        root_ids = []
        stack: list[Any] = []
        for r in roots:
            if r.grad_fn is None:  # a leaf as root: its own node
                root_ids.append(self._add_tensor(r, ROLE_LEAF))
                continue
            if id(r) not in self.names.tensors:
                self.names.tensors[id(r)] = r
            root_ids.append(self._add_tensor(r, ROLE_ROOT))
            self.out_node[(r.grad_fn, int(r.output_nr))] = root_ids[-1]
        for r in reversed(roots):
            if r.grad_fn is not None:
                stack.append((r.grad_fn, -1))
        # Every lookup of a backward node happens while it is hot in the CPU cache (just
        # popped, or just read from its parent's next_functions): on a 10k-node graph a
        # second pass over cold nodes costs more than all the rest of the edge work.
        # ``edges[i]`` is the i-th edge found, (src, dst, slot, output_nr, shape, dtype).
        edges: list[Any] = []
        ids = self.ids
        nodes = self.nodes
        out_node = self.out_node
        producers = set(self.outputs) | {fn for fn, _ in out_node}  # ops with named outputs
        infos = TYPE_INFO
        visit_op = self._visit_op
        add_tensor = self._add_tensor
        pop = stack.pop
        push = stack.append
        new_edge = edges.append
        while stack:
            fn, ei = pop()
            nid = ids.get(fn)
            expand = False
            if nid is None:
                info = infos.get(type(fn)) or type_info(fn)
                if info.accumulate:  # a leaf: no next functions
                    nid = ids[fn] = add_tensor(fn.variable, ROLE_LEAF, True)
                else:
                    nid = visit_op(fn, info)
                    expand = True
            if ei >= 0:  # the edge that led here: complete it now
                dst, slot, nr = edges[ei]
                edges[ei] = _edge(fn, nid, dst, slot, nr, nodes, out_node, producers)
            if not expand:
                continue
            nexts = fn.next_functions
            for slot in range(len(nexts) - 1, -1, -1):
                child, nr = nexts[slot]
                if child is None:
                    continue
                cid = ids.get(child)
                if cid is not None:
                    new_edge(_edge(child, cid, nid, slot, nr, nodes, out_node, producers))
                else:
                    push((child, len(edges)))
                    new_edge((nid, slot, nr))
        self._add_unreached(unreached)
        self._link_saved()
        if self.stale:
            _link_stale(self.stale, self.ids, self.out_node, edges)
        if self.grads:  # thousands of parameters after a backward: a few batched kernels
            summaries = grad_summaries_full([g for _, g in self.grads])
            for (nid, _), summary in zip(self.grads, summaries, strict=True):
                self.nodes[nid]["grad"] = summary
            self.grads.clear()
        _fill_graph(self.g, self.nodes, itertools.chain(self._named_output_edges(), edges))
        self.g.graph.update(roots=root_ids, call=None, calls=[])
        if not self.keep:
            self.cap.release()
        return self.cap

    def _visit_op(self, fn: Any, info: TypeInfo) -> str:
        nid = f"n{len(self.nodes)}"
        self.ids[fn] = nid
        name = info.name or str(fn.name())
        api = file = module = None
        line = None
        if self.provenance is not None:
            try:
                seq = int(fn._sequence_nr())
            except Exception:
                seq = _SEQ_NONE
            hit = self.provenance(seq) if seq != _SEQ_NONE else None
            if hit is not None:
                api, file, line, module = hit
        attrs: dict[str, str] = {}
        saved: Sequence[dict[str, Any]]
        for k, short in info.value_slots:
            try:
                attrs[short] = attr_text(k, getattr(fn, k))
            except Exception:
                continue
        if info.custom:
            saved = inspect_slot(
                fn, "saved_tensors", None, self.inplace, self.names, self.tensor_ids, self.histories
            )
            self._note_pending(saved)
            attrs.update(ctx_attrs(fn))
        elif info.raw_slots:
            saved = self._saved(fn, info)
        else:
            saved = _NONE
        freed = any(e["status"] == SAVED_FREED for e in saved)
        if self.histories:
            self.stale.extend((nid, e, fn) for e, fn in self.histories)
            self.histories.clear()
        opaque = info.opaque if info.name else is_opaque(name)
        label = info.label if info.name else display_name(name)
        if opaque and api is not None and api.startswith("compiled: "):
            label = api  # a compiled region's one node, named after what was compiled
        self.nodes[nid] = {
            "kind": OP,
            "label": label,
            "name": name,
            "op": api,
            "module": module,
            "file": file,
            "line": line,
            "attrs": attrs,
            "saved": saved,
            "freed": freed,
            "custom": info.custom,
            "opaque": opaque,
        }
        if self.keep:
            self.cap.fns[nid] = fn
        # named tensors this op produced sit right after it
        outs = self.outputs.get(fn)
        if outs:
            for nr, key in sorted(outs):
                t = self.names.tensors[key]
                if (fn, nr) in self.out_node:
                    continue
                self.out_node[(fn, nr)] = self._add_tensor(t, self._role_of(t))
        return nid

    def _saved(self, fn: Any, info: TypeInfo) -> list[dict[str, Any]]:
        """The saved tensors of a built-in node: a plain saved tensor is read directly; lists,
        hooked, stale and freed ones go through :func:`_inspect_slot`.

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
            except Exception:  # not a plain tensor (None, list, stale, freed, odd layout, ...)
                slow = inspect_slot(
                    fn, attr, attr, self.inplace, self.names, tensor_ids, self.histories
                )
                self._note_pending(slow)
                out.extend(slow)
                continue
            if shape:
                unhooked = True
            if tid is None and name is not None:
                self.pending.append((e, key))
            out.append(e)
        return out

    def _note_pending(self, entries: list[dict[str, Any]]) -> None:
        for e in entries:
            if e["tensor"] is None and e["tensor_name"] is not None:
                self.pending.append((e, None))

    def _named_output_edges(self) -> list[tuple[str, str, int | None, int, Any, Any]]:
        """op -> the named tensors it produced (drawn before the walk's edges)."""
        out: list[tuple[str, str, int | None, int, Any, Any]] = []
        for (fn, nr), tid in self.out_node.items():
            nid = self.ids.get(fn)
            if nid is not None:
                out.append((nid, tid, None, nr, *_meta(fn, nr)))
        return out

    def _link_saved(self) -> None:
        """Point saved-tensor entries whose tensor node came later in the walk at that node
        (the same tensor, else the tensor node of the same name)."""
        by_name: dict[str, str] | None = None
        for e, key in self.pending:
            e["tensor"] = self.tensor_ids.get(key) if key is not None else None
            if e["tensor"] is not None:
                continue
            if by_name is None:
                by_name = {}
                for n, d in self.nodes.items():
                    if d["kind"] == TENSOR and d["name"] is not None:
                        by_name.setdefault(d["name"], n)
            e["tensor"] = by_name.get(e["tensor_name"])

    def _add_unreached(self, keys: Iterable[int]) -> None:
        for key in keys:
            if key in self.tensor_ids:
                continue
            t = self.names.tensors.get(key)
            if t is None or not t.requires_grad or not t.is_leaf:
                continue
            nid = self._add_tensor(t, ROLE_LEAF)
            self.nodes[nid]["reached"] = False


def _link_stale(
    stale: list[tuple[str, dict[str, Any], Any]],
    ids: dict[Any, str],
    out_node: dict[tuple[Any, int], str],
    edges: list[tuple[str, str, int | None, int, Any, Any]],
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


def _fill_graph(
    g: AutogradGraph,
    nodes: dict[str, dict[str, Any]],
    edges: Iterable[tuple[str, str, int | None, int, Any, Any]],
) -> None:
    """Add ``nodes`` and ``edges`` ``(src, dst, slot, output_nr, shape, dtype)`` to a new,
    empty graph, in order, through networkx's public calls; two edges between the same nodes
    (``x * x``) become one with both slots."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for src, dst, slot, nr, shape, dtype in edges:
        d = found.get((src, dst))
        if d is not None:
            if slot is not None and slot not in d["slots"]:
                d["slots"] = (*d["slots"], slot)
            continue
        found[(src, dst)] = {
            "slot": slot,
            "slots": _NONE if slot is None else (slot,),
            "output_nr": nr,
            "shape": shape,
            "dtype": dtype,
        }
    g.add_nodes_from(nodes)  # ids only: networkx's fast path
    view = g.nodes
    for n, d in nodes.items():
        view[n].update(d)
    g.add_edges_from([(u, v, d) for (u, v), d in found.items()])


def _edge(
    child: Any,
    cid: str,
    dst: str,
    slot: int,
    nr: int,
    nodes: dict[str, dict[str, Any]],
    out_node: dict[tuple[Any, int], str],
    producers: set[Any],
) -> tuple[str, str, int, int, Any, Any]:
    """The edge from output ``nr`` of ``child`` (node ``cid``) into slot ``slot`` of ``dst``:
    it leaves the named tensor of that output when there is one."""
    src = out_node.get((child, nr), cid) if child in producers else cid
    info = TYPE_INFO.get(type(child))
    if info is not None and info.accumulate:  # a leaf: its own facts
        leaf = nodes[cid]
        return src, dst, slot, nr, leaf["shape"], leaf["dtype"]
    return (src, dst, slot, nr, *_output_meta(child, nr))


def _meta(fn: Any, nr: int) -> tuple[tuple[int, ...] | None, str | None]:
    """Shape and dtype of output ``nr`` of ``fn``, without touching a tensor."""
    try:
        if type_info(fn).accumulate:
            v = fn.variable
            return shape_of(v), dtype_name(v.dtype)
    except Exception:
        return None, None
    return _output_meta(fn, nr)


def _output_meta(fn: Any, nr: int) -> tuple[tuple[int, ...] | None, str | None]:
    """:func:`_meta` of a node that is not a leaf's (the walk's hot path)."""
    try:
        m = fn._input_metadata[nr]
        dtype = m.dtype
        return tuple(m.shape), _DTYPE_NAMES.get(dtype) or dtype_name(dtype)
    except Exception:
        return None, None


def _shape_label(shape: tuple[int, ...]) -> str:
    return "tensor(" + ", ".join(str(s) for s in shape) + ")"
