"""Events: what ``watch`` records while a program runs, as plain data (no tensors).

The checks read these (``check(graph, events)``); the report turns the script's own error into
its ``error`` field.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graphscope.model.graph import GradSummary
from graphscope.model.runs import RunList


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
    grad: GradSummary  # the gradient after accumulation
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


@dataclass(frozen=True)
class ScriptExit:
    """How the user's script ended, and what ``python SCRIPT`` would have done at that point.

    ``how`` is ``"finished"`` (ran to its end), ``"sys.exit"`` (``SystemExit``), ``"raised"``
    (an uncaught exception, also in ``Events.error``) or ``"interrupted"`` (KeyboardInterrupt).
    ``status`` is Python's exit status for it: 0; the ``sys.exit`` code modulo 256; 1 for
    ``sys.exit("text")`` or an uncaught exception; 130 for KeyboardInterrupt (the shell's
    128 + SIGINT). ``stderr`` is what Python prints to stderr as the script dies (the traceback
    of the script's own frames, or the ``sys.exit`` text), else None.
    """

    how: str
    status: int = 0
    type: str | None = None  # "SystemExit", "KeyError", "KeyboardInterrupt"
    message: str | None = None  # str() of the exception or of the sys.exit argument
    file: str | None = None  # innermost line of the user's code when it ended
    line: int | None = None
    stderr: str | None = None


@dataclass
class Events:
    """Everything a ``watch`` session recorded, in order. Plain data only."""

    ops: list[OpCall] = field(default_factory=list)
    inplace: list[InplaceWrite] = field(default_factory=list)
    #: a training loop's repeated calls and steps are kept as runs (model/runs.py): the log of
    #: 10,000 identical steps is as small as the log of one
    backward: RunList[BackwardCall] = field(default_factory=lambda: RunList(stepping=("index",)))
    grads: list[GradUpdate] = field(default_factory=list)
    steps: RunList[OptimizerStep] = field(
        default_factory=lambda: RunList(stepping=("index", "after_call"))
    )
    grad_reads: list[GradRead] = field(default_factory=list)
    nonfinite: list[NonFinite] = field(default_factory=list)
    error: ScriptError | None = None
