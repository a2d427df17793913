"""The graph: node kinds, roles and statuses, every node/edge/graph key, and :class:`AutogradGraph`.

An :class:`AutogradGraph` is a :class:`networkx.DiGraph` of plain values (str, int, float, bool,
None, tuples, lists and dicts of those; no tensors). Edges point the way data flows in the
forward pass (leaf -> op -> ... -> loss), the reverse of ``grad_fn.next_functions``. Node ids are
``"n0"``, ``"n1"``, ... in discovery order (roots first, then a depth-first walk of
``next_functions`` in order), never ``id()``: the same program gives the same ids.

List-valued keys may hold a tuple (an empty one is shared by every node that has none);
read them as sequences.

Every node has ``kind`` (``"tensor"``, ``"op"`` or ``"group"``) and ``label`` (the short
user-facing name). The keys of each kind are the fields of :class:`TensorData`, :class:`OpData`
and :class:`GroupData` below (each documented there, once); edges carry :class:`EdgeData`,
``graph.graph`` holds :class:`GraphData`. :func:`graphscope.model.validate` checks a graph
against these definitions.

A leaf's ``AccumulateGrad`` backward node is not drawn as a node of its own: the leaf's tensor
node stands for it (that is where its gradient accumulates). A non-leaf tensor node sits on the
edge from the op that produced it to the ops that consume it (``AddBackward0 -> a ->
MulBackward0``), so the picture reads like the user's code. ``kind == "group"`` nodes are made
by :mod:`graphscope.overview` (never by ``trace``): a collapsed module subtree or a folded
repetition.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Literal, TypedDict

import networkx as nx

from graphscope.model.findings import Finding
from graphscope.model.text import jsonable, spelled

# -- node kinds, roles, statuses ---------------------------------------------------------------

NodeKind = Literal["tensor", "op", "group"]
TENSOR: NodeKind = "tensor"
OP: NodeKind = "op"
GROUP: NodeKind = "group"
NODE_KINDS = (TENSOR, OP, GROUP)

Role = Literal["param", "leaf", "root", "retained", "named"]
ROLE_PARAM: Role = "param"  # an nn.Parameter / named parameter
ROLE_LEAF: Role = "leaf"  # any other leaf
ROLE_ROOT: Role = "root"  # a tensor backward started from
ROLE_RETAINED: Role = "retained"  # a non-leaf with retain_grad()
ROLE_NAMED: Role = "named"  # a non-leaf the user holds in a variable
ROLES = (ROLE_PARAM, ROLE_LEAF, ROLE_ROOT, ROLE_RETAINED, ROLE_NAMED)

SavedStatus = Literal["ok", "stale", "freed", "hooked", "unknown"]

#: what a storage saved for backward holds: an ``activation`` (made by an op of the graph: what
#: checkpointing can free), a ``param`` (a leaf that requires grad, or a view of one: held by
#: the user anyway), an ``input`` (no autograd history: data, buffers, masks, detached values)
StorageHolds = Literal["param", "input", "activation"]
HOLDS_PARAM: StorageHolds = "param"
HOLDS_INPUT: StorageHolds = "input"
HOLDS_ACTIVATION: StorageHolds = "activation"
SAVED_OK: SavedStatus = "ok"  # readable, at the version it was saved at
SAVED_STALE: SavedStatus = "stale"  # modified in place after it was saved
SAVED_FREED: SavedStatus = "freed"  # released by an earlier backward
SAVED_HOOKED: SavedStatus = "hooked"  # packed by saved_tensors_hooks (checkpoint): not unpacked
SAVED_UNKNOWN: SavedStatus = "unknown"  # unreadable for another reason (``error`` says which)
SAVED_STATUSES = (SAVED_OK, SAVED_STALE, SAVED_FREED, SAVED_HOOKED, SAVED_UNKNOWN)


# -- the data of nodes, edges and the graph ----------------------------------------------------


class GradSummary(TypedDict, total=False):
    """Plain-data summary of a gradient (``.grad``); only ``shape`` is always there."""

    shape: list[int]
    dtype: str
    numel: int
    first: list[float]  # the first few values (all of them for a small gradient)
    norm: float
    min: float
    max: float
    sum: float
    nonfinite: bool  # holds NaN or Inf
    error: str  # why it could not be read (odd device or layout)


class SavedEntry(TypedDict, total=False):
    """One tensor an op saved for backward, as it was when the graph was captured."""

    name: str  # the slot: ``self``, ``other``, ``result``, ``saved_tensors[1]``
    status: SavedStatus
    shape: tuple[int, ...] | None
    dtype: str | None
    version_saved: int | None  # the version it was saved at (known when stale)
    version_now: int | None
    tensor: str | None  # node id of the same tensor in the graph, if drawn
    tensor_name: str | None  # the user's name of the saved tensor, when known
    source: str | None  # node id its value flows into the op from (set for stale entries)
    writes: Sequence[int]  # indexes into ``events.inplace`` of the writes that made it stale
    #: stale without torch knowing: written through an alias with its own version counter
    #: (``.data``, ``set_``, NumPy, a storage), so backward silently uses the new values
    silent: bool
    exports: Sequence[int]  # indexes into ``events.exports`` of the aliases it changed through
    error: str  # for ``unknown``: torch's message
    #: index into ``graph.graph["storages"]`` of the storage it lives in (views and every
    #: tensor sharing memory share it); absent or None when unreadable (freed, hooked)
    storage: int | None
    #: a slot saved inside ``torch.utils.checkpoint``: the storages the checkpoint keeps to
    #: recompute it (its inputs), by index into ``graph.graph["storages"]``
    storages: Sequence[int]


class _NodeCommon(TypedDict, total=False):
    boundary: bool  # in a drill-down picture: a neighbour from outside the module, kept visible


class TensorData(_NodeCommon):
    """``kind == "tensor"``: a tensor the user can name."""

    kind: NodeKind
    label: str  # the name, or ``tensor(3, 4)`` when unnamed
    name: str | None  # the user's name: ``w``, ``loss``, ``model.features.weight``
    aliases: Sequence[str]  # other names bound to the same tensor
    role: Role
    shape: tuple[int, ...]
    dtype: str  # ``"float32"``, ...
    device: str  # ``"cpu"``, ``"cuda:0"``, ``"meta"``, ...
    requires_grad: bool
    is_leaf: bool
    retains_grad: bool
    grad_fn: str | None  # name of the tensor's backward node, None for a leaf
    version: int | None  # the tensor's ``_version`` when traced (None: inference tensor)
    grad: GradSummary | None  # ``.grad`` when last read
    grad_call: int  # the backward call whose gradient ``grad`` shows (under ``watch``)
    grad_history: Sequence[GradSummary]  # one per backward call that summed into .grad (``watch``)
    reached: bool  # False: requires grad, but the backward cannot reach it (drawn greyed)
    module: str | None  # for parameters: the path of the module that owns it


class OpData(_NodeCommon):
    """``kind == "op"``: a backward node (``grad_fn``) other than AccumulateGrad."""

    kind: NodeKind
    label: str  # the name without ``torch::autograd::``
    name: str  # the node's ``name()``: ``MulBackward0``, ``torch::autograd::CopySlices``
    op: str | None  # the forward call that created it (``mul``, ``linear``), under ``watch``
    module: str | None  # path of the module that ran it (``encoder.layers.0.self_attn``)
    file: str | None  # the user's source line that created it (under ``watch``)
    line: int | None
    attrs: dict[str, str]  # saved non-tensor values: ``{"alpha": "1", "dim": "(1,)"}``
    saved: Sequence[SavedEntry]
    freed: bool  # backward already freed this node's saved tensors
    custom: bool  # the backward of a custom ``autograd.Function`` (ctx attributes in attrs)
    opaque: bool  # its inside is hidden (compiled region, reentrant checkpoint)
    shape: tuple[int, ...] | None  # the shape of its (first) forward output; None: unknown
    order: int  # rank in forward (creation) order among the graph's ops: 0 = made first


class GroupData(_NodeCommon):
    """``kind == "group"``: several nodes drawn as one (a module subtree or a fold)."""

    kind: NodeKind
    label: str  # ``name`` with ``×N`` when folded
    name: str  # module path (``encoder.layers``) or a description of the repeated block
    repeat: int  # how many identical copies it stands for, 1 if not folded
    ops: int  # number of op nodes inside
    params: list[tuple[str, tuple[int, ...]]]  # (name, shape) of the parameters inside
    param_count: int  # the number of parameter elements inside (sum of their numel)
    module_class: str | None  # the class of the module it collapses (``Linear``), when known
    members: list[str]  # ids of the nodes of the original graph it stands for
    unit: list[str] | None  # for a fold: the ids of the copy its drill-down shows
    module: str | None  # the module path it collapses, None for a loop fold or a part
    cluster: str | None  # the module box it is drawn in (its parent module), None: none
    state: dict[str, list[str]]  # a loop's unit: op id -> names of the loop variables it feeds
    link: str | None  # file name (or page level) of its drill-down picture, when written
    finding_kinds: list[str]  # kinds of the findings on nodes inside (shown on the group)


class EdgeData(TypedDict, total=False):
    """An edge: the value that flows from a producer into a consumer."""

    slot: int | None  # the input index on the consumer (position in its next_functions)
    slots: Sequence[int]  # every slot, when one value feeds the same op twice (``a * a``)
    output_nr: int | None  # the output index on the producer
    shape: tuple[int, ...] | None
    dtype: str | None
    recurrent: bool  # a fold's self-loop: each copy hands this data to the next one
    state: list[str]  # the loop variables that edge carries (``h1``, ``c1``), when known


class GraphData(TypedDict, total=False):
    """``graph.graph``: facts about the whole graph."""

    id: str  # the distinct graph's id under ``watch`` (``g1``)
    roots: list[str]  # node ids of the roots, in order
    call: int | None  # the backward call it was captured at
    calls: Sequence[int]  # every backward call it stands for (a list, or a RunList: runs.py)
    findings: tuple[Finding, ...]  # the findings attached to it (see :meth:`with_findings`)
    modules: dict[str, ModuleInfo]  # module path -> facts about the module, when known
    modules_inferred: bool  # op modules inferred from the parameters they read (no recorder)
    #: each storage the saved tensors live in, once, indexed by the entries' ``storage``:
    #: ``(bytes, holds, op node that made the first tensor seen in it or None, its output_nr)``
    storages: Sequence[tuple[int, StorageHolds, str | None, int | None]]


class ModuleInfo(TypedDict, total=False):
    """What is known about one module (``graph.graph["modules"][path]``)."""

    cls: str  # its class name: ``Linear``, ``TransformerEncoderLayer``
    params: int  # the number of parameter elements in it and its submodules (under ``watch``)


NODE_TYPES: dict[str, type] = {TENSOR: TensorData, OP: OpData, GROUP: GroupData}


# -- the graph ---------------------------------------------------------------------------------


class AutogradGraph(nx.DiGraph):  # type: ignore[type-arg]
    """A captured autograd graph: a networkx DiGraph of plain attributes (see module docstring).

    >>> g = AutogradGraph()
    >>> g.add_node("n0", kind="tensor", label="w", name="w", role="leaf")
    >>> g.tensor_nodes()
    ['n0']
    """

    @property
    def findings(self) -> tuple[Finding, ...]:
        """The findings attached to this graph (``graph.graph["findings"]``)."""
        return tuple(self.graph.get("findings", ()))

    def module_class(self, path: str | None) -> str | None:
        """The class name of module ``path`` (``graph.graph["modules"]``), when known."""
        info = (self.graph.get("modules") or {}).get(path or "")
        return info.get("cls") if isinstance(info, dict) else None

    def spelled(self, path: str) -> str:
        """Module path ``path`` as the user writes it (``model[2]`` for ``model.2``):
        :func:`graphscope.model.text.spelled` with this graph's module classes."""
        modules = self.graph.get("modules") or {}
        classes = {p: i["cls"] for p, i in modules.items() if isinstance(i, dict) and "cls" in i}
        return spelled(path, classes)

    def findings_at(self, node: str) -> list[Finding]:
        """The findings attached to ``node``."""
        return [f for f in self.findings if node in f.marked]

    def tensor_nodes(self) -> list[str]:
        return [n for n, k in self.nodes(data="kind") if k == TENSOR]

    def op_nodes(self) -> list[str]:
        return [n for n, k in self.nodes(data="kind") if k == OP]

    def by_name(self, name: str) -> str | None:
        """Id of the tensor node the user calls ``name`` (or that has it as an alias)."""
        for n, d in self.nodes(data=True):
            if d.get("name") == name or name in (d.get("aliases") or ()):
                return n
        return None

    def roots(self) -> list[str]:
        return list(self.graph.get("roots", ()))

    def with_findings(self, findings: Iterable[Finding]) -> AutogradGraph:
        """The graph carrying ``findings``: itself when it already carries exactly these
        (copying a 50k-node graph costs seconds), else a copy. Never changes ``self``."""
        found = tuple(findings)
        if found == self.findings:
            return self
        g = self.copy()
        g.graph["findings"] = found
        return g

    def structure_key(self) -> tuple[Any, ...]:
        """What stays the same when a training loop builds the same graph again.

        Two captures with equal keys are drawn once. Values (gradients, versions, saved-tensor
        status) are not part of it; names, ops, shapes, lines and edges are.
        """
        nodes = tuple(
            (
                n,
                d.get("kind"),
                d.get("name"),
                tuple(d.get("shape") or ()),
                d.get("role"),
                d.get("file"),
                d.get("line"),
                d.get("module"),
            )
            for n, d in self.nodes(data=True)
        )
        edges = tuple(
            (u, v, tuple(d.get("slots") or (d.get("slot"),))) for u, v, d in self.edges(data=True)
        )
        return (nodes, edges)

    def to_data(self) -> dict[str, Any]:
        """networkx node-link data (JSON-ready), with the findings as dicts."""
        data = nx.node_link_data(self, edges="edges")
        graph = dict(data.get("graph") or {})
        graph.pop("findings", None)
        data["graph"] = graph
        data["findings"] = [f.to_dict() for f in self.findings]
        return jsonable(data)  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        gid = self.graph.get("id")
        roots = [self.nodes[r].get("label", r) for r in self.roots() if r in self]
        found = len(self.findings)
        return (
            f"<AutogradGraph{' ' + str(gid) if gid else ''}: {len(self)} nodes, "
            f"{self.number_of_edges()} edges, roots {roots}, "
            f"{found} finding{'s' if found != 1 else ''}>"
        )


def iter_findings_for(graph: AutogradGraph, node: str) -> Iterator[Finding]:
    """The findings attached to ``node`` of ``graph``."""
    return iter(graph.findings_at(node))
