"""The forward-side recorder that :func:`graphscope.watch` composes.

While installed, a :class:`Recorder` appends plain data to an :class:`~graphscope.model.Events`:

``events.ops``
    :class:`~graphscope.model.OpCall` for every top-level torch call that created backward nodes,
    with the user's source line and module path (:mod:`~graphscope.recorder.ops`).
``events.inplace``
    :class:`~graphscope.model.InplaceWrite` for every tensor argument whose ``_version`` rose
    during a call, and for an in-place call on a leaf that requires grad that torch refused
    (:mod:`~graphscope.recorder.writes`).
``events.steps``
    :class:`~graphscope.model.OptimizerStep` after each ``optimizer.step()``
    (:mod:`~graphscope.recorder.optim`).
``events.grad_reads``
    :class:`~graphscope.model.GradRead` when user code reads ``.grad`` of a non-leaf tensor that
    does not retain its grad (torch's UserWarning still reaches the user, at the user's line).
``events.carries``
    :class:`~graphscope.model.GraphCarry` for an op that takes a tensor whose graph was built
    before the last backward call (:mod:`~graphscope.recorder.carry`).
``events.grad_off``, ``events.exports``
    where the user's code switched gradients off (:mod:`~graphscope.recorder.gradmode`) and the
    ``.detach()``, ``.numpy()``, ``.untyped_storage()`` and ``.data =`` calls
    (:mod:`~graphscope.recorder.aliases`).
``events.resets``
    :class:`~graphscope.model.StepAfterReset` for an optimizer step about to use gradients a
    ``zero_grad()`` threw away (:mod:`~graphscope.recorder.resets`).
``events.scaler_steps``, ``events.nonfinite_steps``
    :class:`~graphscope.model.ScalerStep` for each ``GradScaler.step()``, skipped or not
    (:mod:`~graphscope.recorder.amp`); :class:`~graphscope.model.NonFiniteStep` for an optimizer
    step that used a NaN/Inf gradient, once the session saw one (``steps.check_nonfinite``).
``events.eval_training``
    :class:`~graphscope.model.EvalTraining` for a module switched to ``eval()`` after training
    and trained again without ``train()`` (:mod:`~graphscope.recorder.modes`).
``events.checkpoints``
    :class:`~graphscope.model.CheckpointNoGrad` for a reentrant checkpoint none of whose inputs
    requires grad, naming the parameters inside (:mod:`~graphscope.recorder.checkpoints`).

The parts: one :class:`~graphscope.recorder.mode.RecordingMode` (a TorchFunctionMode) sees every
top-level torch call; global module hooks give each node its module
(:mod:`~graphscope.recorder.modules`); source lines are the innermost frame outside torch and
graphscope (:mod:`~graphscope.recorder.sites`). ``.data`` writes bump no version and are
therefore invisible here, as they are to autograd.

API::

    rec = Recorder(events, name_of=..., backward_count=..., source=True, inplace=True, modules=True)
    rec.install()      # the mode entered, global module hooks, global optimizer hooks
    ...                # the user's code
    rec.uninstall()    # removes everything it installed; idempotent; safe after errors
    rec.provenance(seq) -> (api, file, line, module) | None   # a tracer.Provenance
    rec.modules_ran()  -> [(path, module), ...]   # modules whose forward ran (cleared by uninstall)
    rec.root_modules() -> [module, ...]           # the outermost ones among them
    rec.named_roots()  -> [(name, module), ...]   # the same, with the names their paths use
    rec.backward_starting(roots, index)           # before each backward call (the session's)
    rec.backward_done(index, freed, seq, site)    # after each backward call (the session's)
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import torch

from graphscope._tensors import frame_variable, outside_modes, user_frame
from graphscope.model import Events
from graphscope.recorder.aliases import Aliases
from graphscope.recorder.amp import ScalerSteps
from graphscope.recorder.carry import Carries
from graphscope.recorder.checkpoints import Checkpoints
from graphscope.recorder.compiled import CompiledCalls
from graphscope.recorder.fastpath import FastPaths
from graphscope.recorder.gradmode import GradOffs
from graphscope.recorder.guard import Guard
from graphscope.recorder.mode import PLAIN, RecordingMode, classify, on_stack, remove_mode
from graphscope.recorder.modes import ModeSwitches
from graphscope.recorder.modules import ModuleSpans
from graphscope.recorder.ops import OpLog
from graphscope.recorder.optim import StepHooks
from graphscope.recorder.reparam import Reparametrized
from graphscope.recorder.resets import Resets
from graphscope.recorder.sites import Sites
from graphscope.recorder.writes import Described, Writes

__all__ = ["Recorder"]

Where = tuple[str | None, str | None, int | None, str | None]


class Recorder:
    """Records the forward side of a program into ``events`` (see the module docstring).

    ``name_of(tensor, variables) -> str | None`` names written tensors, optimizer params and
    ``.grad`` readers; ``backward_count() -> int`` gives ``OptimizerStep.after_call``.
    ``source=False`` skips the frame walk (file and line are None), ``inplace=False`` skips the
    version diff and the leaf-raise record, ``modules=False`` installs no module hooks.
    ``guard`` receives the errors of ours inside its hooks (:mod:`~graphscope.recorder.guard`);
    once it is off, the recorder pauses at its next safe point and records nothing more.
    """

    def __init__(
        self,
        events: Events,
        *,
        name_of: Callable[[torch.Tensor, bool], str | None] = lambda t, variables: None,
        backward_count: Callable[[], int] = lambda: 0,
        source: bool = True,
        inplace: bool = True,
        modules: bool = True,
        guard: Guard | None = None,
    ) -> None:
        self.events = events
        self.guard = guard = guard or Guard()
        guard.on_off.append(self.pause)
        self.name_of = name_of
        self.backward_count = backward_count
        self._inplace = inplace
        self._modules = modules
        self.thread = -1
        self.kinds: dict[Any, int] = {}  # torch callable -> PLAIN / WRITER / GRAD
        self.apis: dict[Any, str] = {}  # torch callable -> api name
        self.sites = Sites(source)
        self.ops = OpLog(events, self.sites)
        self.spans = ModuleSpans(on_root_call=self._root_call, guard=guard)
        self.writes = Writes(events, self.sites, self.ops, self._name)
        count = lambda: self.backward_count()  # noqa: E731
        self.resets = Resets(events, count)
        self.steps = StepHooks(
            events,
            self.sites,
            self.writes,
            name=self._name,
            backward_count=count,
            pause_point=self._pause_point,
            resets=self.resets,
            guard=guard,
        )
        self.scaler = ScalerSteps(events, self.sites, count, self.steps)
        self.modes = ModeSwitches(events, count, lambda: len(events.steps))
        self.steps.watchers.append(self.modes.before_step)
        self.resets.namer = self.modes.namer = self.steps.optimizer_name
        self.carries = Carries(events, self._name, count, self.sites)
        self.checkpoints = Checkpoints(events, self._name, count)
        self.reparam = Reparametrized()
        self.offs = GradOffs(events, count, guard)
        self.aliases = Aliases(events, self.sites, self.offs, self._name, self._wrote)
        self.writes.on_op = self.carries.op
        self.writes.on_alias = self.aliases.call
        self.writes.describe = self._describe
        self._mode: RecordingMode | None = None
        self.fast = FastPaths(lambda: self._mode, guard)
        self.compiled = CompiledCalls(self)
        self._paused = False
        self.pause_pending = False
        self._step_names: dict[int, str | None] = {}  # names asked for inside one step
        self._step_key: set[int] | None = None  # the step they were asked in

    @property
    def last_write_seq(self) -> int:
        """The sequence counter at the last recorded in-place write."""
        return self.writes.last_write_seq

    # install / uninstall --------------------------------------------------------------------

    def install(self) -> None:
        """Start recording in the calling thread."""
        if self._mode is not None:
            return
        self.thread = threading.get_ident()
        try:
            if self._modules:
                self.spans.install()
            self.fast.install()
            self.steps.install()
            self.resets.install()
            self.scaler.install()
            self.modes.install()
            self.offs.install()
            self.reparam.install()
            self.compiled.install()
            self.checkpoints.install()
            self._enter()
        except BaseException:
            self.uninstall()
            raise

    def uninstall(self) -> None:
        """Remove everything :meth:`install` added. Idempotent; safe after errors: each part is
        removed on its own, and an error of ours in one (reported to the guard) does not keep
        the others installed."""
        mode, self._mode = self._mode, None
        for remove in (
            (lambda: remove_mode(mode)) if mode is not None else None,
            self.compiled.uninstall,
            self.checkpoints.uninstall,
            self.fast.uninstall,
            self.steps.uninstall,
            self.resets.uninstall,
            self.scaler.uninstall,
            self.modes.uninstall,
            self.offs.uninstall,
            self.reparam.uninstall,
            self.carries.clear,
            self.spans.uninstall,
            self.sites.clear,
        ):
            if remove is None:
                continue
            try:
                remove()
            except Exception as err:
                self.guard.fail("removing the recorder", err)
        self._paused = False
        self.pause_pending = False
        self.kinds.clear()
        self.apis.clear()
        self._step_names, self._step_key = {}, None

    def _enter(self) -> None:
        mode = RecordingMode(self)
        mode.__enter__()
        self._mode = mode

    @contextlib.contextmanager
    def quiet(self) -> Iterator[None]:
        """Record nothing inside (the ``--pdb`` prompt: what the user types there is not the
        program's): this thread counts as another thread for every part."""
        me = threading.get_ident()
        parts = [
            p
            for p in (self, self.steps, self.spans, self.modes, self.fast, self.offs, self.scaler)
            if getattr(p, "thread", None) == me
        ]
        for p in parts:
            p.thread = -1
        try:
            yield
        finally:
            for p in parts:
                p.thread = me

    def step_aside(self) -> Callable[[], None]:
        """Take the mode off the stack and remove the module hooks (for a call into compiled
        code, :mod:`~graphscope.recorder.compiled`); returns what puts them back as they were."""
        mode = self._mode
        index = _stack_index(mode) if mode is not None else None
        hooked = self.spans.hooked
        if index is not None and mode is not None:
            remove_mode(mode)
        if hooked:
            self.spans.remove_hooks()
        fast = self.fast.hooked
        self.fast.uninstall()

        def back() -> None:
            if hooked and self._mode is mode:
                self.spans.install()
            if fast and self._mode is mode:
                self.fast.install()
            if index is not None and mode is not None and self._mode is mode:
                _insert_mode(mode, index)

        return back

    def pause(self) -> None:
        """Stop the per-op recording (the mode and the module hooks: the costly parts); the
        optimizer step hooks stay. Inside a torch call (``Tensor.backward`` runs with our
        mode temporarily off the stack) the pause waits for a safe point: the next optimizer
        step or root module call. :meth:`resume` starts recording again."""
        if self._mode is None:
            return
        self.pause_pending = True
        self._apply_pause()

    def _apply_pause(self) -> None:
        mode = self._mode
        if not self.pause_pending or mode is None or self.spans.running or not on_stack(mode):
            return
        self.pause_pending = False
        self._mode = None
        remove_mode(mode)
        self._paused = True
        self.spans.remove_hooks()
        self.fast.uninstall()

    def _pause_point(self) -> bool:
        """A safe point (an optimizer step boundary): apply a pending pause; paused now?"""
        if self.pause_pending:
            self._apply_pause()
        return self._paused

    def _root_call(self) -> bool:
        """Before a root module's forward: apply a pending pause; skip recording it?"""
        if self.pause_pending:
            self._apply_pause()
            return self._paused
        return False

    def resume(self) -> None:
        if self.guard.off:  # an error of ours: recording stopped for good
            return
        self.pause_pending = False
        if not self._paused:
            return
        self._paused = False
        if self._modules:
            self.spans.install()
        self.fast.install()
        self._enter()

    def forget(self) -> None:
        """Drop the recorded ops and closed module spans (after a backward call has turned
        them into node attributes), so a long training loop keeps O(one step) of them."""
        self.ops.forget()
        self.spans.forget()

    def backward_starting(self, roots: list[torch.Tensor], index: int) -> None:
        """Backward call ``index`` is about to run from ``roots`` (whether it goes back through
        a carried graph: :meth:`~graphscope.recorder.carry.Carries.link`)."""
        self.carries.link(roots, index)
        self.checkpoints.backward_starting()

    def backward_done(
        self, index: int, freed: bool, seq: int, site: tuple[str | None, int | None] | None = None
    ) -> None:
        """Backward call ``index`` ended with the sequence counter at ``seq`` (``freed``: it
        did not retain its graph; ``site``: the user's file and line that made it)."""
        self.carries.backward_done(index, freed, seq, site)
        self.checkpoints.backward_done(index)

    # queries --------------------------------------------------------------------------------

    def provenance(self, seq: int) -> Where | None:
        """``(api, file, line, module)`` of the call that created the node numbered ``seq``."""
        module = self.spans.module_of(seq)
        op = self.ops.find(seq)
        if op is not None:
            return op.api, op.file, op.line, module
        if module is None:
            return None
        return None, None, None, module

    def modules_ran(self) -> list[tuple[str, torch.nn.Module]]:
        return self.spans.modules_ran()

    def root_modules(self) -> list[torch.nn.Module]:
        return self.spans.root_modules()

    def module_facts(self) -> dict[str, dict[str, Any]]:
        """``{path: {"cls": class name, "params": parameter elements}}`` of the modules that
        ran (a :class:`~graphscope.model.graph.ModuleInfo` each)."""
        out: dict[str, dict[str, Any]] = {}
        for path, m in self.spans.modules_ran():
            if path not in out:
                params = sum(p.numel() for p in m.parameters())
                out[path] = {"cls": type(m).__name__, "params": int(params)}
        return out

    def named_roots(self) -> list[tuple[str, torch.nn.Module]]:
        return self.spans.named_roots()

    def root_ids(self) -> tuple[int, ...]:
        return self.spans.root_ids()

    def built_graph(self) -> set[int]:
        """``id()`` of the modules whose forward made backward nodes."""
        return self.spans.built_graph()

    def graphless(self) -> tuple[set[int], set[int], set[int]]:
        """``id()`` of the modules that ran, of those that made backward nodes, and of those
        whose parameters functional_call replaced (for the expected parameters)."""
        built = self.built_graph() | self.checkpoints.cut_modules  # see checkpoints.py
        return {id(m) for _, m in self.modules_ran()}, built, self.reparametrized()

    def reparametrized(self) -> set[int]:
        """``id()`` of the modules whose parameters functional_call replaced."""
        return self.reparam.ids()

    # for the mode ---------------------------------------------------------------------------

    @outside_modes
    def op_made(
        self, api: str, lo: int, hi: int, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        """A plain call made backward nodes ``lo <= seq < hi``."""
        self.carries.op(self.ops.add(api, self.spans.current(), lo, hi), args, kwargs)

    def _wrote(self) -> None:
        self.writes.last_write_seq = torch._C._autograd._get_sequence_nr()

    def _describe(self, t: torch.Tensor) -> Described:
        """The module running a write over ``t`` and the one that produced ``t``, as the
        user names them (``model.2``, ``ReLU(inplace=True)``)."""
        module = self.spans.current_module()
        if module is None:
            return (None, None, None, None, None, None)
        root = self.spans.outermost()
        var = frame_variable(user_frame(2), root) if root is not None else None  # type: ignore[arg-type]
        producer = producer_text = None
        fn = t.grad_fn
        prev = fn.next_functions[0][0] if fn is not None and fn.next_functions else None
        if prev is not None and hasattr(prev, "_sequence_nr"):
            path = self.spans.module_of(int(prev._sequence_nr()))
            if path is not None:
                m = self.spans.named(path)
                producer = _display(path, root, var)
                producer_text = _text(m) if m is not None else None
        path = self.spans.current()
        made = self.spans.made_at(module)
        return (_display(path, root, var), _text(module), producer, producer_text, *made)

    def classify(self, func: Any) -> int:
        try:
            kind, api = classify(func)
        except Exception:  # never let our bookkeeping break the user's call
            kind, api = PLAIN, getattr(func, "__name__", "?")
        self.kinds[func] = kind if self._inplace or kind == PLAIN else PLAIN
        self.apis[func] = api
        return self.kinds[func]

    def _name(self, t: torch.Tensor, variables: bool = True) -> str | None:
        step = self.writes.step_params
        if step is None or torch.is_grad_enabled():
            return self.name_of(t, variables)
        if self._step_key is not step:  # a new optimizer step: names asked for afresh
            self._step_key, self._step_names = step, {}
        key = id(t)
        if key not in self._step_names:
            self._step_names[key] = self.name_of(t, variables)
        return self._step_names[key]


def _display(path: str | None, root: torch.nn.Module | None, var: str | None) -> str | None:
    """The module path, already in the user's names (``model.act``: the spans name a root
    module after the user's variable); only a root the user's code does not hold, named after
    its class (``Net.act``), takes the caller's variable for it (never ``self``: that is the
    module's own name for itself, not the caller's)."""
    if path is None or var is None or root is None or var == "self":
        return path
    cls = type(root).__name__
    if path == cls:
        return var
    return var + path[len(cls) :] if path.startswith(cls + ".") else path


def _text(module: torch.nn.Module) -> str:
    """``ReLU(inplace=True)``, ``Sigmoid``: a leaf module as it prints, else its class."""
    cls = type(module).__name__
    if module._modules:
        return cls
    try:
        extra = module.extra_repr()
    except Exception:
        extra = ""
    return f"{cls}({extra})" if extra else cls


def _stack_index(mode: Any) -> int | None:
    """The position of ``mode`` on this thread's torch-function mode stack, if it is there."""
    for i in range(torch._C._len_torch_function_stack()):
        if torch._C._get_function_stack_at(i) is mode:
            return i
    return None


def _insert_mode(mode: Any, index: int) -> None:
    """Push ``mode`` back at ``index`` of the stack (under the modes pushed since)."""
    above = []
    while torch._C._len_torch_function_stack() > index:
        above.append(torch._C._pop_torch_function_stack())
    torch._C._push_on_torch_function_stack(mode)
    while above:
        torch._C._push_on_torch_function_stack(above.pop())
