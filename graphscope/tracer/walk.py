"""The walk: a tensor's ``grad_fn`` graph into an :class:`~graphscope.model.AutogradGraph`.

Iterative (a 100,000-deep chain is fine) and written for speed (a few µs per node): per-type
facts are cached (:mod:`~graphscope.tracer.types`), saved tensors take a fast path when they
are plain (:mod:`~graphscope.tracer.saved` for the rest), and the graph is handed to networkx
in one batch at the end.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import torch

from graphscope._tensors import (
    _DTYPE_NAMES,
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
    TENSOR,
    AutogradGraph,
    InplaceWrite,
)
from graphscope.names import Names
from graphscope.tracer.capture import Capture, Provenance
from graphscope.tracer.freeing import SPACING
from graphscope.tracer.membership import assign_modules
from graphscope.tracer.saved import SavedReader, ctx_attrs
from graphscope.tracer.silent import SilentIndex
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
#: the ``slots`` of an edge into one slot, shared (a tuple per edge would be one more object
#: per edge for the garbage collector to scan)
_SLOTS = tuple((i,) for i in range(64))
#: an op's shape until an edge (or its node) gives it
_UNSET: Any = object()


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
        silent: SilentIndex | None = None,
        infer: bool = False,
        memory: bool = False,
    ) -> None:
        self.names = names
        self.infer = infer  # no spans recorded (trace() alone): modules may be inferred
        self.provenance = provenance
        self.inplace = inplace
        self.keep = keep
        self.silent = silent if silent else None  # writes that bypass the version counter
        self.g = AutogradGraph()
        self.cap = Capture(self.g)
        self.nodes: dict[str, dict[str, Any]] = {}
        self.ids: dict[Any, str] = {}  # backward node -> node id
        self.tensor_ids: dict[int, str] = {}  # id(tensor) -> node id
        self.outputs: dict[Any, list[tuple[int, int]]] = {}  # fn -> [(output_nr, id(tensor))]
        self.out_node: dict[tuple[Any, int], str] = {}  # (fn, output_nr) -> tensor node id
        self.root_keys: set[int] = set()
        self.grads: list[tuple[str, torch.Tensor]] = []  # (node id, .grad) to summarize
        self.saved = SavedReader(names, inplace, self.tensor_ids, self.silent, memory)
        #: ``(sequence number, visit index, node id)`` of each op: its forward order
        self.seqs: list[tuple[int, int, str]] = []
        #: (backward nodes, their children) when the graph is deep enough to need holds
        self.structure: tuple[list[Any], list[list[int]]] | None = None

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
        root_ids, stack = self._start(roots)
        edges = self._walk(stack)
        self._add_unreached(unreached)
        self.saved.link(self.nodes, self.ids, self.out_node, edges)
        storages = self.saved.storage_table(self.ids)
        ops = self._number_ops()
        if self.grads:  # thousands of parameters after a backward: a few batched kernels
            summaries = grad_summaries_full([g for _, g in self.grads])
            for (nid, _), summary in zip(self.grads, summaries, strict=True):
                self.nodes[nid]["grad"] = summary
            self.grads.clear()
        found = _merge_edges(self.nodes, itertools.chain(self._named_output_edges(), edges))
        self._unset_shapes()
        deep = len(self.ids) >= SPACING  # deep enough to need holds: the walk's own structure
        adjacency: tuple[dict[str, list[str]], dict[str, list[str]]] | None = None

        def neighbours() -> tuple[dict[str, list[str]], dict[str, list[str]]]:
            nonlocal adjacency
            if adjacency is None:
                adjacency = _neighbours(found)
            return adjacency

        inferred = assign_modules(  # spans when recorded, else inferred: one place for both
            self.nodes,
            ops,
            neighbours,
            self.names.classes,
            self.infer and bool(self.names.param_module),
        )
        if deep:
            self.structure = _structure(self.ids, self.out_node, neighbours()[1])
        _fill_graph(self.g, self.nodes, found)
        self.g.graph.update(roots=root_ids, call=None, calls=[])
        if storages:
            self.g.graph["storages"] = storages
        if inferred:
            self.g.graph["modules_inferred"] = True
        modules = _module_classes(self.nodes, self.names.classes)
        if modules:
            self.g.graph["modules"] = modules
        if not self.keep:
            self.cap.release()
        return self.cap

    def _unset_shapes(self) -> None:
        """An op whose output 0 feeds nothing drawn asks its node for its shape."""
        nodes = self.nodes
        for fn, nid in self.ids.items():
            d = nodes[nid]
            if d["shape"] is _UNSET:
                d["shape"] = _output_meta(fn, 0)[0]

    def _start(self, roots: Sequence[torch.Tensor]) -> tuple[list[str], list[Any]]:
        """The roots' nodes, and the stack the walk starts from."""
        self.root_keys = {id(r) for r in roots}
        for fn, nr, key in self.names.non_leaf_outputs():
            self.outputs.setdefault(fn, []).append((nr, key))
        root_ids = []
        for r in roots:
            if r.grad_fn is None:  # a leaf as root: its own node
                root_ids.append(self._add_tensor(r, ROLE_LEAF))
                continue
            if id(r) not in self.names.tensors:
                self.names.tensors[id(r)] = r
            root_ids.append(self._add_tensor(r, ROLE_ROOT))
            self.out_node[(r.grad_fn, int(r.output_nr))] = root_ids[-1]
        stack = [(r.grad_fn, -1) for r in reversed(roots) if r.grad_fn is not None]
        return root_ids, stack

    def _walk(self, stack: list[Any]) -> list[Any]:
        """The depth-first walk; returns the edges, ``(src, dst, slot, output_nr, shape,
        dtype)`` in the order found.

        Every lookup of a backward node happens while it is hot in the CPU cache (just
        popped, or just read from its parent's next_functions): on a 10k-node graph a second
        pass over cold nodes costs more than all the rest of the edge work.
        """
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
        return edges

    def _visit_op(self, fn: Any, info: TypeInfo) -> str:
        nid = f"n{len(self.nodes)}"
        self.ids[fn] = nid
        name = info.name or str(fn.name())
        api = file = module = None
        line = None
        try:
            seq = int(fn._sequence_nr())
        except Exception:
            seq = _SEQ_NONE
        self.seqs.append((seq, len(self.seqs), nid))
        if self.provenance is not None:
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
            saved = self.saved.read_custom(fn, nid)
            attrs.update(ctx_attrs(fn))
        elif info.raw_slots:
            saved = self.saved.read(fn, info, nid, seq if seq != _SEQ_NONE else -1)
        else:
            saved = _NONE
        freed = bool(saved) and any(e["status"] == SAVED_FREED for e in saved)
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
            "shape": _UNSET,  # its output 0's, read off the edges once the walk is done
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

    def _named_output_edges(self) -> list[tuple[str, str, int | None, int, Any, Any]]:
        """op -> the named tensors it produced (drawn before the walk's edges)."""
        out: list[tuple[str, str, int | None, int, Any, Any]] = []
        for (fn, nr), tid in self.out_node.items():
            nid = self.ids.get(fn)
            if nid is not None:
                out.append((nid, tid, None, nr, *_meta(fn, nr)))
        return out

    def _number_ops(self) -> list[str]:
        """Each op's ``order``: its rank in forward (creation) order among this graph's ops
        (autograd numbers nodes as the forward pass creates them; a node of another thread
        or without a number sorts by its place in the walk). Returns the ops in that order."""
        self.seqs.sort()
        nodes = self.nodes
        ops = [nid for _, _, nid in self.seqs]
        for rank, nid in enumerate(ops):
            nodes[nid]["order"] = rank
        self.seqs.clear()
        return ops

    def _add_unreached(self, keys: Iterable[int]) -> None:
        for key in keys:
            if key in self.tensor_ids:
                continue
            t = self.names.tensors.get(key)
            if t is None or not t.requires_grad or not t.is_leaf:
                continue
            nid = self._add_tensor(t, ROLE_LEAF)
            self.nodes[nid]["reached"] = False


def _structure(
    ids: dict[Any, str], out_node: dict[tuple[Any, int], str], pred: dict[str, list[str]]
) -> tuple[list[Any], list[list[int]]] | None:
    """The backward nodes walked (``ids``, in discovery order) and each one's children as
    indexes, for :func:`~graphscope.tracer.freeing.protect_walked` (no second walk); None when
    an edge's end is not a walked node (then protect walks for itself)."""
    order = list(ids)
    at = {nid: k for k, nid in enumerate(ids.values())}
    for (fn, _), tid in out_node.items():  # a named output stands for its op
        nid = ids.get(fn)
        if nid is not None:
            at.setdefault(tid, at[nid])
    kids: list[list[int]] = []
    try:
        for nid in ids.values():  # an op's inputs are its children in backward
            kids.append([at[p] for p in pred.get(nid, _NONE)])
    except KeyError:
        return None
    return order, kids


def _module_classes(
    nodes: dict[str, dict[str, Any]], classes: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """``{module path: {"cls": class name}}`` for the modules the graph's ``nodes`` belong to
    (and their parents), as far as ``classes`` knows them."""
    if not classes:
        return {}
    paths = {d["module"] for d in nodes.values()}
    paths.discard(None)
    known: set[str] = set()  # paths whose parents are done
    for path in paths:
        while path and path not in known:
            known.add(path)
            path = path.rpartition(".")[0]
    return {p: {"cls": classes[p]} for p in sorted(known) if p in classes}


def _merge_edges(
    nodes: dict[str, dict[str, Any]],
    edges: Iterable[tuple[str, str, int | None, int, Any, Any]],
) -> dict[tuple[str, str], dict[str, Any]]:
    """``{(src, dst): edge data}`` for the edges ``(src, dst, slot, output_nr, shape, dtype)``
    in the order found; two edges between the same nodes (``x * x``) become one with both
    slots. Sets each op's output shape (output 0) from the first edge that carries it."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    shapes: dict[Any, Any] = {}  # one tuple per distinct shape: fewer objects for the GC
    for src, dst, slot, nr, shape, dtype in edges:
        if shape is not None:
            shape = shapes.setdefault(shape, shape)
        if nr == 0:
            d = nodes[src]
            if d["shape"] is _UNSET:
                d["shape"] = shape
        e = found.get((src, dst))
        if e is not None:
            if slot is not None and slot not in e["slots"]:
                e["slots"] = (*e["slots"], slot)
            continue
        found[(src, dst)] = {
            "slot": slot,
            "slots": _NONE if slot is None else _SLOTS[slot] if slot < 64 else (slot,),
            "output_nr": nr,
            "shape": shape,
            "dtype": dtype,
        }
    return found


def _neighbours(
    found: Iterable[tuple[str, str]],
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Each node's successors and predecessors (along the data flow), in edge order."""
    succ: dict[str, list[str]] = {}
    pred: dict[str, list[str]] = {}
    for u, v in found:
        s = succ.get(u)
        if s is None:
            succ[u] = [v]
        else:
            s.append(v)
        p = pred.get(v)
        if p is None:
            pred[v] = [u]
        else:
            p.append(u)
    return succ, pred


def _fill_graph(
    g: AutogradGraph,
    nodes: dict[str, dict[str, Any]],
    found: dict[tuple[str, str], dict[str, Any]],
) -> None:
    """Add ``nodes`` and the merged edges ``found`` to a new, empty graph, in order, through
    networkx's public calls.

    networkx's documented factory hooks (``node_attr_dict_factory``, ``edge_attr_dict_factory``:
    DiGraph's "Subclasses (Advanced)") hand it the walk's own attribute dicts as the ones it
    makes for each new node and edge, instead of a copy of each (a third of the fill's time).
    The hooks are set on this graph only, for these two calls; that networkx took the dicts in
    order is checked after, and a graph where it did not is filled again with copies.
    """
    if not _fill_with(g, nodes, found):
        g.clear()
        g.add_nodes_from(nodes)
        for n, d in g.nodes(data=True):
            d.update(nodes[n])
        g.add_edges_from([(u, v, dict(d)) for (u, v), d in found.items()])


def _fill_with(
    g: AutogradGraph,
    nodes: dict[str, dict[str, Any]],
    found: dict[tuple[str, str], dict[str, Any]],
) -> bool:
    """:func:`_fill_graph` through the factory hooks; False if networkx made its dicts
    otherwise (then ``g`` is to be filled again)."""
    try:
        with _handing(g, "node_attr_dict_factory", nodes.values()):
            g.add_nodes_from(nodes)
        with _handing(g, "edge_attr_dict_factory", found.values()):
            g.add_edges_from(found)  # its keys are the (src, dst) pairs
    except (StopIteration, RuntimeError):  # more dicts asked for than made
        return False
    if any(d is not nodes[n] for n, d in g.nodes(data=True)):
        return False
    if not found:
        return True
    ends = (next(iter(found)), next(reversed(found)))  # a shift shows at the last edge
    return all(g.edges[e] is found[e] for e in ends)


@contextlib.contextmanager
def _handing(g: AutogradGraph, hook: str, dicts: Iterable[dict[str, Any]]) -> Iterator[None]:
    """networkx factory ``hook`` of ``g`` (this graph only) returns ``dicts`` one by one."""
    g.__dict__[hook] = iter(dicts).__next__
    try:
        yield
    finally:
        g.__dict__.pop(hook, None)


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
