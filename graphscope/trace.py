"""Walk a tensor's ``grad_fn`` graph into an :class:`AutogradGraph` of plain values.

>>> import torch, graphscope
>>> w = torch.tensor([1.], requires_grad=True); x = torch.tensor([2.], requires_grad=True)
>>> a = torch.add(w, x); b = torch.add(w, 1); y = torch.mul(a, b)
>>> g = graphscope.trace(y)
>>> [g.nodes[n]["label"] for n in g]
['y', 'MulBackward0', 'AddBackward0', 'a', 'w', 'x', 'AddBackward0', 'b']

The walk is iterative (a 100,000-deep chain is fine), reads saved tensors without tripping
torch's errors (stale ones are marked with both versions, freed ones marked freed), and keeps
no tensor and no backward node once it returns.
"""

from __future__ import annotations

import itertools
import re
import resource
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from graphscope._gc import gc_paused
from graphscope._tensors import (
    _DTYPE_NAMES,
    Names,
    dtype_name,
    grad_summaries_full,
    safe_grad,
    shape_of,
    storage_key,
    user_frame,
    version_of,
)
from graphscope.errors import TraceError
from graphscope.model import (
    OP,
    ROLE_LEAF,
    ROLE_NAMED,
    ROLE_PARAM,
    ROLE_RETAINED,
    ROLE_ROOT,
    SAVED_FREED,
    SAVED_HOOKED,
    SAVED_OK,
    SAVED_STALE,
    SAVED_UNKNOWN,
    TENSOR,
    AutogradGraph,
    InplaceWrite,
)

__all__ = ["trace", "Capture", "capture"]

_STALE_RE = re.compile(
    r"\[(?P<ttype>torch\.\w+) \[(?P<shape>[^\]]*)\]\](?:, which is output (?P<out>\d+) of "
    r"(?P<node>[^,]+),)? is at version (?P<cur>\d+); expected version (?P<exp>\d+) instead"
)
#: the type of ``node._raw_saved_x`` (absent from old torch: then every slot takes the slow path)
_SavedTensor: Any = getattr(torch._C._autograd, "SavedTensor", None)
_FREED_MARK = "after they have already been freed"
_OPAQUE_MARKS = ("CompiledFunction", "CheckpointFunction")
_MAX_ATTR_TEXT = 40
_SEQ_NONE = (1 << 64) - 1

#: ``lookup(seq) -> (api, file, line, module)`` for the forward call that made node ``seq``.
Provenance = Callable[[int], "tuple[str | None, str | None, int | None, str | None] | None"]


# -- per node type facts, computed once per class -------------------------------------------


@dataclass(frozen=True)
class _TypeInfo:
    accumulate: bool  # AccumulateGrad: the node of a leaf
    custom: bool  # the backward of a custom autograd.Function
    name: str  # what the node calls itself (a custom Function: its class name); "" = ask it
    label: str
    opaque: bool
    #: ``(short name, "_raw_saved_x", "_saved_x")`` of each slot holding tensors
    raw_slots: tuple[tuple[str, str, str], ...]
    #: ``("_saved_alpha", "alpha")``, ... of each slot holding a plain value
    value_slots: tuple[tuple[str, str], ...]


_TYPE_INFO: dict[type, _TypeInfo] = {}
#: ``(slot, type, value) -> repr`` of saved integer values (strides, padding, ...): they repeat
_REPRS: dict[tuple[str, type, Any], str] = {}
_REPRS_MAX = 10_000
#: saved values that only describe a saved tensor's layout (sizes, strides): not worth a label
_METADATA_SLOTS = (
    "_sym_sizes",
    "_sym_strides",
    "_sym_sizes_opt",
    "_sym_numel",
    "_layout",
    "_sizes",
    "_strides",
    "_options",
)


def _type_info(fn: Any) -> _TypeInfo:
    cls = type(fn)
    info = _TYPE_INFO.get(cls)
    if info is None:
        names = [k for k in dir(cls) if k.startswith("_saved_")]
        raws = {k[len("_raw") :] for k in dir(cls) if k.startswith("_raw_saved_")}
        accumulate = hasattr(cls, "variable")
        custom = isinstance(fn, torch.autograd.function.BackwardCFunction)
        name = "" if accumulate else str(fn.name())
        if custom:  # the class of a custom Function's backward node is per Function
            name = getattr(getattr(fn, "_forward_cls", None), "__name__", None) or name
        elif name.rpartition("::")[2] != cls.__name__:
            name = ""  # a class shared by several C++ node types: ask each node
        short = len("_saved_")
        info = _TYPE_INFO[cls] = _TypeInfo(
            accumulate=accumulate,
            custom=custom,
            name=name,
            label=_display_name(name),
            opaque=any(m in name for m in _OPAQUE_MARKS),
            raw_slots=tuple((k[short:], "_raw" + k, k) for k in names if k in raws),
            value_slots=tuple(
                (k, k[short:]) for k in names if k not in raws and not k.endswith(_METADATA_SLOTS)
            ),
        )
    return info


# -- deep graphs ------------------------------------------------------------------------------

_STACK_RAISED = False


def _raise_stack_limit() -> None:
    """Let torch free very deep graphs after a Python walk (autograd-notes §12).

    torch 2.13 overflows the C stack when it destroys a 50,000+ deep graph whose nodes had
    Python wrappers; raising the soft stack limit (Linux grows the main thread's stack up to it)
    avoids the crash. Done once, only upwards, never above the hard limit.
    """
    global _STACK_RAISED
    if _STACK_RAISED or not sys.platform.startswith("linux"):
        return
    _STACK_RAISED = True
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_STACK)
        want = 1 << 30
        if hard != resource.RLIM_INFINITY:
            want = min(want, hard)
        if soft != resource.RLIM_INFINITY and soft < want:
            resource.setrlimit(resource.RLIMIT_STACK, (want, hard))
    except (ValueError, OSError):
        pass


# -- the capture ------------------------------------------------------------------------------


@dataclass
class Capture:
    """A graph plus the torch objects behind it, kept only until :meth:`release`.

    ``watch`` keeps a Capture across one backward call so it can read the gradients and
    freed flags afterwards (:meth:`refresh`), then releases it.
    """

    graph: AutogradGraph
    _fns: dict[str, Any] = field(default_factory=dict)  # node id -> backward node
    _tensors: dict[str, torch.Tensor] = field(default_factory=dict)  # node id -> tensor

    def refresh(self) -> None:
        """Re-read gradients and versions after a backward call. Saved tensors keep the state
        they had when captured (what backward used), not "freed": freeing is normal."""
        with gc_paused():
            self._refresh()

    def _refresh(self) -> None:
        g = self.graph
        items = list(self._tensors.items())
        summaries = grad_summaries_full([safe_grad(t) for _, t in items])
        for (nid, t), summary in zip(items, summaries, strict=True):
            d = g.nodes[nid]
            d["grad"] = summary
            d["version"] = version_of(t)

    def release(self) -> None:
        self._fns.clear()
        self._tensors.clear()


def trace(
    *roots: torch.Tensor,
    params: Any = None,
    names: Mapping[str, torch.Tensor] | None = None,
) -> AutogradGraph:
    """Trace the autograd graph behind ``roots`` into plain data.

    ``params``: a module, a ``{name: tensor}`` mapping or ``(name, tensor)`` pairs; their
    names label the leaves, and those the graph does not reach are added greyed
    (``reached=False``). ``names``: ``{"loss": loss}`` overrides every other name. Otherwise
    tensors are named after the caller's variables.
    """
    tensors = _check_roots(roots)
    table = Names()
    for n, t in (names or {}).items():
        if not isinstance(t, torch.Tensor):
            raise TraceError(f"names[{n!r}] must be a tensor (got {type(t).__name__})")
        table.add(n, t)
    with gc_paused():
        candidates: list[int] = []
        if params is not None:
            table.add_params(params)
            candidates = [k for k in table.name if k in table.params]
        table.add_frame(user_frame())
        cap = capture(tensors, table, unreached=candidates)
    cap.release()
    return cap.graph


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
) -> Capture:
    """Walk from ``roots``. With ``keep`` the Capture holds the torch objects for ``refresh``."""
    _raise_stack_limit()
    with gc_paused():  # the walk allocates many small containers: collections would cost ~40%
        return _Walker(names, provenance, inplace, keep).run(roots, unreached)


class _Walker:
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
            "aliases": list(aliases) if aliases else [],
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
            "grad_history": [],
            "reached": True,
            "module": names.param_module.get(key),
        }
        if grad is not None:
            self.grads.append((nid, grad))
        if self.keep:
            self.cap._tensors[nid] = t
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
        infos = _TYPE_INFO
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
                info = infos.get(type(fn)) or _type_info(fn)
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

    def _visit_op(self, fn: Any, info: _TypeInfo) -> str:
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
        for k, short in info.value_slots:
            try:
                attrs[short] = _attr_text(k, getattr(fn, k))
            except Exception:
                continue
        if info.custom:
            saved = _inspect_slot(
                fn, "saved_tensors", None, self.inplace, self.names, self.tensor_ids
            )
            self._note_pending(saved)
            attrs.update(_ctx_attrs(fn))
        elif info.raw_slots:
            saved = self._saved(fn, info)
        else:
            saved = []
        freed = any(e["status"] == SAVED_FREED for e in saved)
        self.nodes[nid] = {
            "kind": OP,
            "label": info.label if info.name else _display_name(name),
            "name": name,
            "op": api,
            "module": module,
            "file": file,
            "line": line,
            "attrs": attrs,
            "saved": saved,
            "freed": freed,
            "custom": info.custom,
            "opaque": info.opaque if info.name else any(m in name for m in _OPAQUE_MARKS),
        }
        if self.keep:
            self.cap._fns[nid] = fn
        # named tensors this op produced sit right after it
        outs = self.outputs.get(fn)
        if outs:
            for nr, key in sorted(outs):
                t = self.names.tensors[key]
                if (fn, nr) in self.out_node:
                    continue
                self.out_node[(fn, nr)] = self._add_tensor(t, self._role_of(t))
        return nid

    def _saved(self, fn: Any, info: _TypeInfo) -> list[dict[str, Any]]:
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
                    "writes": [],
                }
            except Exception:  # not a plain tensor (None, list, stale, freed, odd layout, ...)
                slow = _inspect_slot(fn, attr, attr, self.inplace, self.names, tensor_ids)
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


def _fill_graph(
    g: AutogradGraph,
    nodes: dict[str, dict[str, Any]],
    edges: Iterable[tuple[str, str, int | None, int, Any, Any]],
) -> None:
    """Add ``nodes`` and ``edges`` ``(src, dst, slot, output_nr, shape, dtype)`` to a new,
    empty graph, in order; two edges between the same nodes (``x * x``) become one with both
    slots. Written straight into networkx's adjacency dicts: a third of the time of
    ``add_nodes_from`` / ``add_edges_from``, which check and copy every attribute dict."""
    try:
        node_map, succ_map, pred_map = g._node, g._succ, g._pred
        direct = not node_map and succ_map is g._adj
    except AttributeError:  # a networkx without these internals
        direct = False
    succ: dict[str, dict[str, Any]] = {n: {} for n in nodes}
    pred: dict[str, dict[str, Any]] = {n: {} for n in nodes}
    for src, dst, slot, nr, shape, dtype in edges:
        row = succ[src]
        d = row.get(dst)
        if d is not None:
            if slot is not None and slot not in d["slots"]:
                d["slots"].append(slot)
            continue
        row[dst] = pred[dst][src] = {
            "slot": slot,
            "slots": [] if slot is None else [slot],
            "output_nr": nr,
            "shape": shape,
            "dtype": dtype,
        }
    if not direct:
        g.add_nodes_from(nodes.items())
        g.add_edges_from((u, v, d) for u, row in succ.items() for v, d in row.items())
        return
    node_map.update(nodes)
    succ_map.update(succ)  # _adj is the same dict
    pred_map.update(pred)


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
    info = _TYPE_INFO.get(type(child))
    if info is not None and info.accumulate:  # a leaf: its own facts
        leaf = nodes[cid]
        return src, dst, slot, nr, leaf["shape"], leaf["dtype"]
    return (src, dst, slot, nr, *_output_meta(child, nr))


def _meta(fn: Any, nr: int) -> tuple[tuple[int, ...] | None, str | None]:
    """Shape and dtype of output ``nr`` of ``fn``, without touching a tensor."""
    try:
        if _type_info(fn).accumulate:
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


def _display_name(name: str) -> str:
    return name.removeprefix("torch::autograd::")


def _shape_label(shape: tuple[int, ...]) -> str:
    return "tensor(" + ", ".join(str(s) for s in shape) + ")"


def _attr_text(slot: str, v: Any) -> str:
    """``_short(v)``, cached for the integer values (strides, padding, groups) that repeat
    across thousands of nodes. Ints only: 1 == 1.0 == True and 0.0 == -0.0 would mix."""
    cls = v.__class__
    if cls is int or cls is bool or cls is tuple and all(type(x) is int for x in v):
        key = (slot, cls, v)
        text = _REPRS.get(key)
        if text is None:
            text = _short(v)
            if len(_REPRS) < _REPRS_MAX:
                _REPRS[key] = text
        return text
    return _short(v)


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= _MAX_ATTR_TEXT else text[: _MAX_ATTR_TEXT - 1] + "…"


def _ctx_attrs(fn: Any) -> dict[str, str]:
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
            out[k] = _short(v)
    return out


def _inspect_slot(
    fn: Any,
    label: str,
    attr: str | None,
    inplace: Sequence[InplaceWrite] | None,
    names: Names | None,
    tensor_ids: Mapping[int, str],
) -> list[dict[str, Any]]:
    short = label.removeprefix("_saved_")
    raw_name = "_raw_saved_tensors" if attr is None else "_raw" + attr
    try:
        raw = getattr(fn, raw_name)
    except Exception:
        raw = None
    raws = list(raw) if isinstance(raw, (list, tuple)) else [raw]
    if raws and all(r is not None and getattr(r, "unpack_hook", None) is not None for r in raws):
        # saved under saved_tensors_hooks (checkpoint, offloading): unpacking could re-run code
        return [_entry(short, SAVED_HOOKED)]
    try:
        value = fn.saved_tensors if attr is None else getattr(fn, attr)
    except RuntimeError as err:
        msg = str(err)
        m = _STALE_RE.search(msg)
        if m:
            e = _entry(short, SAVED_STALE)
            e["version_saved"] = int(m["exp"])
            e["version_now"] = int(m["cur"])
            e["shape"] = tuple(int(s) for s in m["shape"].split(",") if s.strip())
            t = _raw_tensor(raws)
            if t is not None:
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
            return [_entry(short, SAVED_FREED)]
        return [_entry(short, SAVED_UNKNOWN, error=msg.splitlines()[0][:200])]
    except Exception as err:  # anything else: describe it, never break the walk
        return [_entry(short, SAVED_UNKNOWN, error=f"{type(err).__name__}: {err}"[:200])]
    values = value if isinstance(value, (list, tuple)) else [value]
    out = []
    for i, v in enumerate(values):
        if not isinstance(v, torch.Tensor):
            continue
        e = _entry(short if len(values) == 1 else f"{short}[{i}]", SAVED_OK)
        e["shape"] = shape_of(v)
        e["dtype"] = dtype_name(v.dtype)
        e["version_now"] = version_of(v)
        _link_tensor(e, v, names, tensor_ids)
        out.append(e)
    return out


def _entry(name: str, status: str, **extra: Any) -> dict[str, Any]:
    e: dict[str, Any] = {
        "name": name,
        "status": status,
        "shape": None,
        "dtype": None,
        "version_saved": None,
        "version_now": None,
        "tensor": None,
        "tensor_name": None,
        "writes": [],
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
