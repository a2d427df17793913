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
    #: the autograd sequence counter before the call: backward nodes numbered below it existed
    #: already (a write with ``seq`` above a node's number came after that node saved its inputs)
    seq: int = -1
    module: str | None = None  # path of the module whose forward made the write (``2``)
    module_text: str | None = None  # that module as it prints: ``ReLU(inplace=True)``
    #: for a write over an op's output, the module whose forward produced it (``1``, ``Sigmoid``)
    producer_module: str | None = None
    producer_text: str | None = None
    #: where the writing module was constructed (``self.act = nn.ReLU(inplace=True)``), when seen
    module_file: str | None = None
    module_line: int | None = None


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
    #: backward nodes the call's graph held (counted by the walk that tells repeats apart);
    #: a recurrent state carried under ``retain_graph=True`` makes it grow call after call
    nodes: int | None = None


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
    """One ``optimizer.step()``."""

    index: int
    optimizer: str  # class name
    after_call: int  # number of backward calls made before this step
    params: tuple[str, ...]  # names of params with a grad at the step (empty: not recorded)
    file: str | None = None
    line: int | None = None
    optimizer_id: int = 0  # which optimizer object (1, 2, ... in order of first step)
    built_file: str | None = None  # where the optimizer was constructed, when seen
    built_line: int | None = None
    name: str | None = None  # the user's name for the optimizer (``opt``, ``trainer.opt``)
    #: how many parameters the optimizer holds, with a gradient or not (0: not recorded), and
    #: the names of those the user's code names: the parameters of a model rebuilt after the
    #: optimizer was built are held by the optimizer alone (no name), and no step covers the
    #: new model's, which have the same names
    held: int = 0
    holds: tuple[str, ...] = ()

    def covers(self, name: str) -> bool:
        """Whether this step updates the leaf the user calls ``name`` (a step whose parameters
        were not recorded is taken to cover every leaf)."""
        return name in self.params or not (self.params or self.held)

    @property
    def recorded(self) -> bool:
        """Whether the parameters this step updated are known."""
        return bool(self.params or self.held)


@dataclass(frozen=True)
class OptimizerBuilt:
    """An optimizer the user's code constructed (whether or not it ever steps): a script that
    raised before an optimizer's first step says nothing about which parameters it holds."""

    optimizer: str  # class name
    file: str | None
    line: int | None


@dataclass(frozen=True)
class GradRead:
    """``.grad`` read on a non-leaf tensor that does not retain its grad (got None)."""

    name: str | None
    file: str | None
    line: int | None
    grad_fn: str | None


@dataclass(frozen=True)
class OpSite:
    """An op of a captured graph: its node id, backward name, forward call and line."""

    node: str | None
    op: str  # "MmBackward0"
    api: str | None  # "matmul"
    file: str | None
    line: int | None


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
    #: the leaves whose .grad held it (names), when it was seen there before being located
    leaves: tuple[str, ...] = ()
    seen_at: int | None = None  # the call whose gradients first held it (``call`` located it)
    api: str | None = None  # the forward call that made the op (``log_softmax``, ``linear``)
    #: when the values the op read in the forward pass were already non-finite: the op whose
    #: forward made them (a float16 matmul that overflowed), else None
    forward: OpSite | None = None


@dataclass(frozen=True)
class GraphCarry:
    """A forward op that took a tensor whose graph was built before an earlier backward call.

    A recurrent state carried across batches (``out, h = rnn(x, h)``: ``h`` holds the previous
    batch's graph, which that batch's backward freed), or a running total that keeps every
    iteration's graph (``total_loss += loss``: ``same_site``, the carried tensor was made by this
    same line before). One event per line and name.
    """

    api: str
    file: str | None
    line: int | None
    module: str | None
    name: str | None  # the user's name of the carried tensor (``h``, ``total_loss``)
    after_call: int  # backward calls made before the op
    made_before: int  # the first backward call (that freed a graph) made after it was built
    same_site: bool  # it was made by an op on this same line (an accumulation)
    #: the first of the next few backward calls whose graph went through the carried tensor's
    #: old graph (a recurrent state kept under ``retain_graph=True``), None if none did
    into_call: int | None = None
    in_tuple: bool = False  # the variable holds it in a tuple or list (an LSTM's ``(h, c)``)


@dataclass(frozen=True)
class KeptAlive:
    """Tensors with graphs from earlier iterations still held by a container at a backward call
    (``losses.append(loss)``): every iteration's graph stays in memory."""

    name: str  # the container variable (``losses``)
    file: str | None  # the statement that adds to it, when found (``losses.append(loss)``)
    line: int | None
    count: int  # graphs of earlier iterations it held
    call: int  # the backward call at which it was seen


@dataclass(frozen=True)
class GradOff:
    """Where the user's code switched gradient recording off: a ``torch.no_grad()`` block,
    ``torch.set_grad_enabled(False)``, ``torch.inference_mode()``, or a ``.detach()`` of a
    tensor that requires grad. The latest one per line is kept."""

    index: int  # order among all events of this kind (later is larger)
    api: str  # "no_grad", "set_grad_enabled", "inference_mode", "detach"
    file: str | None
    line: int | None
    after_call: int  # backward calls made before it
    name: str | None = None  # for detach: the detached tensor's name


@dataclass(frozen=True)
class MadeFromLeaf:
    """A named tensor made, on one line, from a leaf that requires grad and has no name
    (``W = torch.randn(3, 1, requires_grad=True) * 0.01``): the name holds a non-leaf, so its
    ``.grad`` stays None; the leaf behind it gets the gradient."""

    name: str
    file: str | None  # the line that made it: where it stopped being a leaf
    line: int | None
    op: str | None  # the forward call (``mul``, ``to``, ``double``)
    text: str | None  # that source line, stripped


@dataclass(frozen=True)
class AliasExport:
    """A NumPy array or storage handed out by ``.numpy()`` / ``.untyped_storage()``: writes
    through it bump no version counter and are not seen as calls, so a checksum of the
    storage's bytes is kept to see later whether they changed."""

    index: int
    api: str  # "numpy", "untyped_storage"
    file: str | None
    line: int | None
    storage: int  # opaque key of the storage (see InplaceWrite.storage)
    seq: int  # the autograd sequence counter at the call
    digest: int | None  # checksum of the storage's bytes then (None: too large to checksum)


@dataclass(frozen=True)
class StepAfterReset:
    """An optimizer step whose parameters' gradients were all None or zero because they were
    reset after the last backward call (``loss.backward(); opt.zero_grad(); opt.step()``)."""

    optimizer: str  # class name
    step_file: str | None
    step_line: int | None
    reset: str  # what reset them: ``optimizer.zero_grad()``, ``model.zero_grad()``
    file: str | None  # the reset
    line: int | None
    call: int  # the backward call whose gradients it threw away
    name: str | None = None  # the user's name for the optimizer (``opt_d``, ``self.optimizer``)


@dataclass(frozen=True)
class Named:
    """A name on the statement that raised, and what it held then (a tensor, a module).

    ``line``/``text`` are where the name was last assigned before that statement in the same
    function (``q, k, v = x.chunk(3, -1)``), or, for ``self.act``, the assignment to
    ``self.act`` in the file's class (``self.act = nn.ReLU(inplace=True)``)."""

    name: str  # "q", "self.act"
    what: str  # "tensor", "module"
    file: str | None
    line: int | None
    text: str | None
    shape: tuple[int, ...] | None = None
    dtype: str | None = None  # "torch.int64"
    requires_grad: bool | None = None
    is_leaf: bool | None = None
    grad_fn: str | None = None  # "MulBackward0"
    inference: bool | None = None  # made under torch.inference_mode()
    module_text: str | None = None  # a module as it prints: "ReLU(inplace=True)"


@dataclass(frozen=True)
class FunctionSite:
    """A custom ``torch.autograd.Function`` that torch's message names (``MyFnBackward``)."""

    name: str  # the class name: "MyFn"
    file: str | None
    forward_line: int | None  # ``def forward``
    backward_line: int | None  # ``def backward``
    returns: tuple[int, ...]  # lines of backward's ``return`` statements
    return_text: str | None  # the last of them, stripped: "return grad * b"
    inputs: tuple[str, ...]  # forward's parameters, without ctx: ("a", "b", "scale")


@dataclass(frozen=True)
class ErrorSite:
    """The user's statement that raised the script's exception, and what its names held."""

    file: str | None
    line: int | None  # the statement's first line
    text: str | None  # the statement's source (several lines for a call that spans them)
    names: tuple[Named, ...] = ()
    functions: tuple[FunctionSite, ...] = ()

    def named(self, name: str) -> Named | None:
        return next((n for n in self.names if n.name == name), None)


@dataclass(frozen=True)
class ScalerStep:
    """One ``scaler.step(optimizer)`` of an enabled ``torch.amp.GradScaler``: ``skipped`` when
    the scaler found Inf/NaN in the (scaled) gradients and did not call ``optimizer.step()``."""

    index: int  # 0-based order among all scaler steps
    after_call: int  # backward calls made before it
    skipped: bool
    optimizer: str  # class name
    file: str | None = None  # the ``scaler.step()`` line
    line: int | None = None
    #: the scale the skipped step's gradients were multiplied by (None for a step that ran:
    #: reading it would cost a device sync at every step)
    scale: float | None = None
    device: str | None = None  # the scaler's device type ("cuda", "cpu")
    optimizer_name: str | None = None  # the user's name for the optimizer (``opt``)


@dataclass(frozen=True)
class NonFiniteStep:
    """An optimizer step whose parameters' gradients held NaN or Inf (checked only once a
    non-finite gradient was seen): the step used them."""

    optimizer: str
    after_call: int
    file: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class EvalTraining:
    """A module switched to ``eval()`` after it trained, then trained again in eval mode: an
    optimizer step covered its parameters, which had gradients, while ``module.training`` was
    still False."""

    name: str  # the user's name of the module the eval() call was made on (``model``)
    layers: tuple[
        str, ...
    ]  # its layers whose behaviour eval() changes (``Dropout``, ``BatchNorm1d``)
    file: str | None  # the ``.eval()`` (or ``.train(False)``) call
    line: int | None
    after_call: int  # backward calls made before the eval() call
    step_file: str | None  # the first optimizer step that trained it in eval mode
    step_line: int | None
    step_call: int  # backward calls made before that step
    optimizer: str
    steps: int = 1  # optimizer steps that trained it in eval mode, until train() or the end
    optimizer_name: str | None = None  # the user's name for the optimizer (``opt``)


@dataclass(frozen=True)
class CheckpointNoGrad:
    """A reentrant ``torch.utils.checkpoint`` call (``use_reentrant=True``) run with gradients
    on, none of whose tensor inputs required grad: its output has no graph, so the parameters
    of the modules that ran inside it get no gradient from it. One per line (the first call),
    joined by the checkpoints fed its output."""

    file: str | None  # the user's checkpoint(...) call
    line: int | None
    text: str | None  # that source line, stripped (for the hint: ``use_reentrant=False``)
    params: tuple[str, ...]  # the user's names of the parameters inside that require grad
    after_call: int  # backward calls made before it
    calls: int = 1  # checkpoint calls on this line like it (counted up to the first backward)
    #: of ``params``, those whose ``.grad`` the next backward call did not change, and that
    #: call's number (None until a backward call came)
    missing: tuple[str, ...] | None = None
    call: int | None = None


@dataclass(frozen=True)
class ScriptError:
    """The exception the user's code raised (type, message, innermost user line)."""

    type: str
    message: str
    file: str | None
    line: int | None
    #: who raised it: "torch" (a frame of torch's own Python), "call" (a call from the user's
    #: line into compiled code: torch's C++ most often), "raise" (a ``raise`` statement of the
    #: user's), "library" (another library's Python); None when not known
    origin: str | None = None
    site: ErrorSite | None = None  # the statement that raised, and what its names held


@dataclass(frozen=True)
class ScriptExit:
    """How the user's script ended, and what ``python SCRIPT`` would have done at that point.

    ``how`` is ``"finished"`` (ran to its end), ``"sys.exit"`` (``SystemExit``), ``"raised"``
    (an uncaught exception, also in ``Events.error``), ``"interrupted"`` (KeyboardInterrupt) or
    ``"terminated"`` (SIGTERM, under the command line) or ``"quit"`` (``q`` at the pdb prompt of
    ``--pdb``, which stops at an in-place write). ``status`` is Python's exit status for
    it: 0; the ``sys.exit`` code modulo 256; 1 for ``sys.exit("text")`` or an uncaught
    exception; 130 for KeyboardInterrupt (the shell's 128 + SIGINT); 143 for SIGTERM (128 + 15); 2 for
    ``q`` at the prompt (as ``pytest --pdb``). ``stderr`` is what Python prints to stderr as the script dies (the traceback
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
    backward: RunList[BackwardCall] = field(
        default_factory=lambda: RunList(stepping=("index", "nodes"))
    )
    grads: list[GradUpdate] = field(default_factory=list)
    steps: RunList[OptimizerStep] = field(
        default_factory=lambda: RunList(stepping=("index", "after_call"))
    )
    built: list[OptimizerBuilt] = field(default_factory=list)
    grad_reads: list[GradRead] = field(default_factory=list)
    nonfinite: list[NonFinite] = field(default_factory=list)
    carries: list[GraphCarry] = field(default_factory=list)
    kept: list[KeptAlive] = field(default_factory=list)
    grad_off: list[GradOff] = field(default_factory=list)
    made_from_leaf: list[MadeFromLeaf] = field(default_factory=list)
    exports: list[AliasExport] = field(default_factory=list)
    resets: list[StepAfterReset] = field(default_factory=list)
    scaler_steps: RunList[ScalerStep] = field(
        default_factory=lambda: RunList(stepping=("index", "after_call"))
    )
    nonfinite_steps: list[NonFiniteStep] = field(default_factory=list)
    eval_training: list[EvalTraining] = field(default_factory=list)
    checkpoints: list[CheckpointNoGrad] = field(default_factory=list)
    error: ScriptError | None = None
