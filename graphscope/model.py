"""The vocabulary of graphscope: node kinds, attribute keys, events, findings, options.

Everything graphscope passes between its rooms is defined here, once. This module imports
nothing of graphscope's and no torch: a graph or an event is plain data (str, int, float, bool,
None, tuples, lists and dicts of those), so checks and styles are tested on hand-built graphs.

The graph
---------
An :class:`AutogradGraph` is a :class:`networkx.DiGraph`. Edges point the way data flows in the
forward pass (leaf -> op -> ... -> loss), the reverse of ``grad_fn.next_functions``. Node ids are
``"n0"``, ``"n1"``, ... in discovery order (roots first, then a depth-first walk of
``next_functions`` in order), never ``id()``: the same program gives the same ids.

Every node has ``kind`` (:data:`TENSOR` or :data:`OP`) and ``label`` (the short user-facing name).

``kind == "tensor"``: a tensor the user can name.

============== ==================================================================================
key            meaning
============== ==================================================================================
name           the user's name: ``w``, ``loss``, ``model.features.weight``; ``None`` if unnamed
aliases        other names bound to the same tensor (list of str)
role           ``param`` (an nn.Parameter / named parameter), ``leaf`` (any other leaf),
               ``root`` (a tensor backward started from), ``retained`` (non-leaf with
               ``retain_grad()``), ``named`` (a non-leaf the user holds in a variable)
shape          tuple of ints
dtype          ``"float32"``, ...
device         ``"cpu"``, ``"cuda:0"``, ``"meta"``, ...
requires_grad  bool
is_leaf        bool
retains_grad   bool
grad_fn        name of the tensor's backward node (``"MulBackward0"``) or ``None`` for a leaf
version        the tensor's ``_version`` when traced
grad           :func:`grad_summary` dict of ``.grad`` when traced, or ``None``
grad_history   list of ``grad_summary`` dicts, one per backward call that changed ``.grad``
               (filled by ``watch``; the last entry equals ``grad``)
reached        False for a tensor that requires grad (a parameter of a module that ran, or a
               named leaf) that the backward cannot reach: drawn greyed and detached
module         for parameters: the module path that owns it (``features``), else ``None``
============== ==================================================================================

A leaf's ``AccumulateGrad`` backward node is not drawn as a node of its own: the leaf's tensor
node stands for it (that is where its gradient accumulates). A non-leaf tensor node sits on the
edge from the op that produced it to the ops that consume it (``AddBackward0 -> a ->
MulBackward0``), so the picture reads like the user's code.

``kind == "op"``: a backward node (``grad_fn``) other than AccumulateGrad.

============== ==================================================================================
name           the node's ``name()``: ``MulBackward0``, ``torch::autograd::CopySlices``
op             the forward call that created it (``mul``, ``linear``) or ``None``
module         module path that ran it (``features``, ``encoder.layers.0.self_attn``) or ``None``
file, line     the user's source line that created it, or ``None`` (only under ``watch``)
attrs          dict of saved non-tensor values: ``{"alpha": "1", "dim": "(1,)"}`` (strings)
saved          list of saved-tensor dicts: ``{"name": "self", "shape": (1,), "dtype":
               "float32", "status": "ok"|"stale"|"freed"|"hooked"|"unknown",
               "version_saved": int|None, "version_now": int|None, "tensor": node id or None}``
freed          True when backward already freed this node's saved tensors
custom         True for a custom ``autograd.Function`` (its ctx attributes are in ``attrs``)
opaque         True for a node whose inside is hidden (compiled region, reentrant checkpoint)
============== ==================================================================================

``kind == "group"``: several nodes drawn as one (made by :mod:`graphscope.collapse`, never by
``trace``): a collapsed module subtree or a folded repetition.

============== ==================================================================================
name           module path (``encoder.layers``) or a description of the repeated block
repeat         how many identical copies it stands for (``6`` is drawn "x6"), 1 if not folded
ops            number of op nodes inside
params         list of ``(name, shape)`` of the parameters inside
members        ids of the nodes of the original graph it replaces
link           file name of the drill-down picture for it, when written
finding_kinds  kinds of the findings on nodes inside (they stay visible on the group)
============== ==================================================================================

Edges carry ``slot`` (the input index on the consumer: position in its ``next_functions``),
``output_nr`` (the output index on the producer), and ``shape``/``dtype`` of the value when known.
When a value feeds the same op twice (``a * a``) the edge lists every slot in ``slots``.

Graph attributes (``graph.graph``): ``roots`` (node ids of the roots, in order), ``call`` (the
backward call number it was captured at, or ``None``), ``calls`` (every call it stood for).

Findings are attached by id: ``graph.findings`` is a tuple of :class:`Finding`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import networkx as nx

# -- node kinds and roles ---------------------------------------------------------------------

TENSOR = "tensor"
OP = "op"
GROUP = "group"
NODE_KINDS = (TENSOR, OP, GROUP)

ROLE_PARAM = "param"
ROLE_LEAF = "leaf"
ROLE_ROOT = "root"
ROLE_RETAINED = "retained"
ROLE_NAMED = "named"
ROLES = (ROLE_PARAM, ROLE_LEAF, ROLE_ROOT, ROLE_RETAINED, ROLE_NAMED)

SAVED_OK = "ok"
SAVED_STALE = "stale"
SAVED_FREED = "freed"
SAVED_HOOKED = "hooked"
SAVED_UNKNOWN = "unknown"
SAVED_STATUSES = (SAVED_OK, SAVED_STALE, SAVED_FREED, SAVED_HOOKED, SAVED_UNKNOWN)

# -- finding kinds and severities -------------------------------------------------------------

ERROR = "error"  # fails, or is certainly wrong
WARNING = "warning"  # very likely a bug
INFO = "info"  # worth knowing, possibly intended
SEVERITIES = (ERROR, WARNING, INFO)
Severity = Literal["error", "warning", "info"]

#: Stable identifiers of findings (DESIGN.md) and what each means.
FINDING_KINDS: Mapping[str, str] = {
    "grad-accumulation": "a leaf's .grad summed the gradients of 2+ backward calls without a reset",
    "leaf-inplace": "an in-place operation on a leaf that requires grad",
    "saved-tensor-modified": "a tensor saved for backward was modified in place after it was saved",
    "graph-freed": "backward through a graph already freed by an earlier backward",
    "nonleaf-grad-access": ".grad of a non-leaf tensor was read without retain_grad() (it is None)",
    "nonscalar-backward": "backward() on a non-scalar output without gradient=",
    "no-grad-param": "a tensor that requires grad (e.g. a parameter) that the backward did not reach",
    "nonfinite-grad": "NaN or Inf first appears in a gradient at this node",
    "no-grad-fn": "backward on a tensor that does not require grad / has no grad_fn",
}


@dataclass(frozen=True)
class Location:
    """A place in the user's source: ``file`` as the user named it, 1-based ``line``."""

    file: str | None
    line: int | None
    what: str | None = None  # e.g. "saved by MulBackward0 here"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.file else "?"
        return f"{where} ({self.what})" if self.what else where


@dataclass(frozen=True)
class Finding:
    """One thing that went (or will go) wrong, in the user's terms."""

    kind: str
    severity: Severity
    message: str
    hint: str
    file: str | None = None
    line: int | None = None
    node: str | None = None  # node id in ``graph``
    graph: str | None = None  # graph id ("g1") the node belongs to
    related: tuple[Location, ...] = ()
    badge: str | None = None  # a short text for the picture: "saved v0, now v1 <- line 9"

    def __post_init__(self) -> None:
        if self.kind not in FINDING_KINDS:
            raise ValueError(
                f"unknown finding kind {self.kind!r}; expected one of {list(FINDING_KINDS)}"
            )
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES} (got {self.severity!r})")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["related"] = [asdict(r) for r in self.related]
        return d

    def key(self) -> tuple[Any, ...]:
        """What makes two findings the same one (used to de-duplicate across graphs)."""
        return (self.kind, self.file, self.line, self.message)


# -- events: what `watch` records, as plain data ----------------------------------------------


@dataclass(frozen=True)
class OpCall:
    """A forward call that created backward nodes ``seq_lo <= seq < seq_hi``."""

    api: str
    file: str | None
    line: int | None
    module: str | None
    seq_lo: int
    seq_hi: int


@dataclass(frozen=True)
class InplaceWrite:
    """A call that bumped a tensor's version counter (an in-place write)."""

    index: int  # order among all events of this kind
    api: str  # "add_", "__setitem__", "relu" (inplace=True), "copy_"
    file: str | None
    line: int | None
    storage: int  # opaque key grouping aliases of one storage (not an address to follow)
    version_before: int
    version_after: int
    name: str | None  # user's name of the written tensor, when known
    is_leaf: bool
    requires_grad: bool
    grad_enabled: bool
    raised: str | None = None  # the error torch raised for it (e.g. leaf in-place), else None


@dataclass(frozen=True)
class BackwardCall:
    """One top-level call into the autograd engine."""

    index: int  # 1-based
    api: str  # "backward" (Tensor.backward / autograd.backward) or "grad" (autograd.grad)
    file: str | None
    line: int | None
    roots: tuple[str, ...]  # user names of the roots ("loss"), "?" when unnamed
    root_shapes: tuple[tuple[int, ...], ...]
    root_requires_grad: tuple[bool, ...]
    retain_graph: bool
    create_graph: bool
    gradient_given: bool  # gradient= / grad_outputs= passed
    graph: str | None  # id of the distinct graph it was captured into ("g1"), None if none
    error: str | None = None  # the error the engine raised, if it raised
    error_type: str | None = None


@dataclass(frozen=True)
class GradUpdate:
    """A leaf's ``.grad`` after one backward call (from a post-accumulate-grad hook)."""

    call: int  # BackwardCall.index
    name: str  # user's name of the leaf
    before: str  # "none" (grad was None), "zero" (all zeros), "kept" (accumulating), "changed"
    grad: dict[str, Any]  # grad_summary after accumulation
    file: str | None = None  # the backward call's line
    line: int | None = None


@dataclass(frozen=True)
class OptimizerStep:
    index: int
    optimizer: str  # class name
    after_call: int  # number of backward calls made before this step
    params: tuple[str, ...]  # names of params with a grad at the step
    file: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class GradRead:
    """``.grad`` read on a non-leaf tensor that does not retain its grad (got None)."""

    name: str | None
    file: str | None
    line: int | None
    grad_fn: str | None


@dataclass(frozen=True)
class NonFinite:
    """A gradient that holds NaN or Inf, first seen flowing out of ``op``."""

    call: int
    graph: str | None
    node: str | None  # node id in that graph
    op: str  # node name, e.g. "LogBackward0"
    value: str  # "nan", "inf", "nan+inf"
    file: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class ScriptError:
    """The exception the user's code raised (type, message, innermost user line)."""

    type: str
    message: str
    file: str | None
    line: int | None


@dataclass
class Events:
    """Everything a ``watch`` session recorded, in order. Plain data only."""

    ops: list[OpCall] = field(default_factory=list)
    inplace: list[InplaceWrite] = field(default_factory=list)
    backward: list[BackwardCall] = field(default_factory=list)
    grads: list[GradUpdate] = field(default_factory=list)
    steps: list[OptimizerStep] = field(default_factory=list)
    grad_reads: list[GradRead] = field(default_factory=list)
    nonfinite: list[NonFinite] = field(default_factory=list)
    error: ScriptError | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- the graph --------------------------------------------------------------------------------


class AutogradGraph(nx.DiGraph):
    """A captured autograd graph: a networkx DiGraph of plain attributes (see module docstring).

    >>> g = AutogradGraph()
    >>> g.add_node("n0", kind="tensor", label="w", name="w", role="leaf")
    >>> g.tensor_nodes()
    ['n0']
    """

    findings: tuple[Finding, ...] = ()

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
        g.findings = found
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
                d.get("name") if d.get("kind") == TENSOR else d.get("name"),
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
        """networkx node-link data (JSON-ready), with findings."""
        data = nx.node_link_data(self, edges="edges")
        data["findings"] = [f.to_dict() for f in self.findings]
        return _jsonable(data)


def _jsonable(x: Any) -> Any:
    """Tuples to lists and non-finite floats to strings, recursively, for JSON."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    return x


def jsonable(x: Any) -> Any:
    """Public alias of the JSON conversion used for reports."""
    return _jsonable(x)


# -- gradient summaries ------------------------------------------------------------------------


def format_number(x: float) -> str:
    """Short, stable text for a number: ``5``, ``0.25``, ``-1.5e-07``, ``nan``.

    >>> format_number(5.0), format_number(0.1 + 0.2), format_number(float("inf"))
    ('5', '0.3', 'inf')
    """
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return str(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.4g}"


def summary_text(summary: Mapping[str, Any] | None) -> str:
    """One line for a grad summary: ``[5.]`` style for small ones, else norm and range."""
    if not summary:
        return "None"
    first = summary.get("first") or []
    numel = summary.get("numel", len(first))
    if numel <= 4 and len(first) == numel:
        return "[" + ", ".join(format_number(v) for v in first) + "]"
    if "norm" not in summary:
        return f"shape {tuple(summary.get('shape') or ())}"
    text = f"norm {format_number(summary['norm'])}"
    if "min" in summary and "max" in summary:
        text += f", min {format_number(summary['min'])}, max {format_number(summary['max'])}"
    return text


# -- options -----------------------------------------------------------------------------------

ENGINES = ("auto", "dot", "embedded")
FORMATS = ("svg", "png", "pdf", "dot", "json", "html")


@dataclass(frozen=True)
class Options:
    """How to draw a graph. One frozen value instead of many keyword arguments.

    >>> Options(format="png").format
    'png'
    """

    format: str = "svg"
    engine: str = "auto"  # "auto": system dot when on PATH, else the embedded graphviz-pure
    show_saved: bool = True  # saved tensors listed on op nodes
    show_source: bool = True  # file:line and module on op nodes (when known)
    show_attrs: bool = False  # saved scalars (alpha, dim, ...) on op nodes
    show_legend: bool = True
    show_modules: bool = True  # a box around the nodes of each module (op and parameter nodes)
    rankdir: str = "BT"  # leaves at the bottom, loss on top (as the notes draw it)
    max_nodes: int = 300  # readable budget: above it, collapse/fold (see collapse.py)
    depth: int | None = None  # module depth to show expanded; None: automatic
    expand: tuple[str, ...] = ()  # module paths to show expanded

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)} (got {self.format!r})")
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)} (got {self.engine!r})")
        if self.rankdir not in ("BT", "TB", "LR", "RL"):
            raise ValueError(f"rankdir must be BT, TB, LR or RL (got {self.rankdir!r})")
        if self.max_nodes < 1:
            raise ValueError(f"max_nodes must be a positive number (got {self.max_nodes})")


def iter_findings_for(graph: AutogradGraph, node: str) -> Iterator[Finding]:
    """The findings attached to ``node`` of ``graph``."""
    return (f for f in graph.findings if f.node == node)


def sorted_findings(findings: Sequence[Finding]) -> list[Finding]:
    """Errors first, then warnings, then info; in source order within each."""
    rank = {ERROR: 0, WARNING: 1, INFO: 2}
    return sorted(findings, key=lambda f: (rank[f.severity], f.file or "", f.line or 0, f.kind))
