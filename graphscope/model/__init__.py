"""The vocabulary of graphscope: node kinds, attribute keys, events, findings.

Everything graphscope passes between its rooms is defined here, once, in four modules:

* :mod:`graphscope.model.graph`: node kinds, roles, saved-tensor statuses, the keys of every node,
  edge and graph (TypedDicts), and :class:`AutogradGraph`;
* :mod:`graphscope.model.events`: what ``watch`` records while a program runs;
* :mod:`graphscope.model.findings`: :class:`Finding`, the finding kinds and severities;
* :mod:`graphscope.model.text`: numbers and gradient summaries as short text, JSON conversion;

plus :func:`validate` (:mod:`graphscope.model.validate`). This package imports nothing else of
graphscope's and no torch: a graph or an event is plain data, so checks and styles are tested on
hand-built graphs. (How to draw, :class:`graphscope.options.Options`, lives beside it.)
"""

from graphscope.model.events import (
    BackwardCall,
    Events,
    GradRead,
    GradUpdate,
    InplaceWrite,
    NonFinite,
    OpCall,
    OptimizerStep,
    ScriptError,
)
from graphscope.model.findings import (
    ERROR,
    FINDING_KINDS,
    INFO,
    SEVERITIES,
    WARNING,
    Finding,
    Location,
    Severity,
    sorted_findings,
)
from graphscope.model.graph import (
    GROUP,
    NODE_KINDS,
    OP,
    ROLE_LEAF,
    ROLE_NAMED,
    ROLE_PARAM,
    ROLE_RETAINED,
    ROLE_ROOT,
    ROLES,
    SAVED_FREED,
    SAVED_HOOKED,
    SAVED_OK,
    SAVED_STALE,
    SAVED_STATUSES,
    SAVED_UNKNOWN,
    TENSOR,
    AutogradGraph,
    EdgeData,
    GradSummary,
    GraphData,
    GroupData,
    NodeKind,
    OpData,
    Role,
    SavedEntry,
    SavedStatus,
    TensorData,
    iter_findings_for,
)
from graphscope.model.runs import RunList
from graphscope.model.text import (
    format_number,
    jsonable,
    plural,
    ranges,
    short_path,
    summary_text,
)
from graphscope.model.validate import problems, validate

__all__ = [
    "RunList",
    "AutogradGraph",
    "BackwardCall",
    "ERROR",
    "EdgeData",
    "Events",
    "FINDING_KINDS",
    "Finding",
    "GROUP",
    "GradRead",
    "GradSummary",
    "GradUpdate",
    "GraphData",
    "GroupData",
    "INFO",
    "InplaceWrite",
    "Location",
    "NODE_KINDS",
    "NodeKind",
    "NonFinite",
    "OP",
    "OpCall",
    "OpData",
    "OptimizerStep",
    "ROLES",
    "ROLE_LEAF",
    "ROLE_NAMED",
    "ROLE_PARAM",
    "ROLE_RETAINED",
    "ROLE_ROOT",
    "Role",
    "SAVED_FREED",
    "SAVED_HOOKED",
    "SAVED_OK",
    "SAVED_STALE",
    "SAVED_STATUSES",
    "SAVED_UNKNOWN",
    "SEVERITIES",
    "SavedEntry",
    "SavedStatus",
    "ScriptError",
    "Severity",
    "TENSOR",
    "TensorData",
    "WARNING",
    "format_number",
    "iter_findings_for",
    "jsonable",
    "plural",
    "ranges",
    "short_path",
    "problems",
    "sorted_findings",
    "summary_text",
    "validate",
]
