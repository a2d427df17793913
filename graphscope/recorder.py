"""The forward-side recorder that :func:`graphscope.watch` composes.

While installed, a :class:`Recorder` appends plain data to an :class:`~graphscope.model.Events`:

``events.ops``
    :class:`~graphscope.model.OpCall` for every top-level torch call that created backward nodes
    (``torch._C._autograd._get_sequence_nr()`` moved during the call: the nodes it made have
    ``seq_lo <= node._sequence_nr() < seq_hi``), with the user's source line and module path.
``events.inplace``
    :class:`~graphscope.model.InplaceWrite` for every tensor argument whose ``_version`` rose
    during a call (``add_``, ``__setitem__``, ``relu`` with ``inplace=True``, ``copy_``,
    ``out=``), and for an in-place call on a leaf that requires grad that torch refused (``raised``
    holds torch's message, the versions are equal, and the error is re-raised unchanged).
``events.steps``
    :class:`~graphscope.model.OptimizerStep` after each ``optimizer.step()``.
``events.grad_reads``
    :class:`~graphscope.model.GradRead` when user code reads ``.grad`` of a non-leaf tensor that
    does not retain its grad (torch's UserWarning still reaches the user, at the user's line).

API::

    rec = Recorder(events, name_of=..., backward_count=..., source=True, inplace=True, modules=True)
    rec.install()      # TorchFunctionMode entered, global module hooks, global optimizer hooks
    ...                # the user's code
    rec.uninstall()    # removes everything it installed; idempotent; safe after errors
    rec.provenance(seq) -> (api, file, line, module) | None   # a trace.Provenance
    rec.modules_ran()  -> [(path, module), ...]   # modules whose forward ran (cleared by uninstall)
    rec.root_modules() -> [module, ...]           # the outermost ones among them

``name_of(tensor, variables) -> str | None`` names written tensors, optimizer params and ``.grad`` readers;
``backward_count() -> int`` gives ``OptimizerStep.after_call``. ``source=False`` skips the frame
walk (file and line are None), ``inplace=False`` skips the version diff and the leaf-raise
record, ``modules=False`` installs no module hooks (module is None).

How it works
------------
One :class:`torch.overrides.TorchFunctionMode` sees every top-level torch call (nested calls
inside a call are not seen: a ``linear`` is one call). The fast path reads the sequence counter
before and after the call and nothing else. Only calls that may write (their name ends with
``_``, an in-place dunder such as ``__setitem__``/``__iadd__``, ``out=``, ``inplace=True``, or
``batch_norm``/``instance_norm`` which update running statistics) read ``_version`` of their
tensor arguments. The sequence counter is per thread: only the thread that called
:meth:`Recorder.install` is recorded; other threads run untouched. While ``torch.compile``
traces, the mode passes calls through (no graph breaks of ours).

Source lines are the innermost frame outside torch and graphscope
(:func:`graphscope._tensors.is_internal`, cached per code object).

Module paths come from global forward pre/post hooks (``always_call=True``) that record
sequence-number spans; the module of a node is the narrowest span holding its sequence number.
Paths are relative to the outermost module that ran (``features.0``,
``encoder.layers.0.self_attn``); ops in the outermost module's own ``forward`` get its class
name (``LR``), so "made by the model itself" stays distinguishable from "made outside any
module" (``None``). A module called through ``module.forward(x)`` runs no hooks: its nodes belong
to the caller. A module that is not a submodule of the outermost one gets
``<caller path>.<ClassName>``.

Writes made inside ``optimizer.step()`` are recorded for the optimizer's parameters only (not
its state buffers such as ``exp_avg``), with the line of the ``step()`` call.

Caveats: warnings that torch's C++ code emits during other intercepted calls are attributed by
Python to this module's frame (only the non-leaf ``.grad`` warning is re-emitted at the caller's
line); ``.data`` writes bump no version and are therefore invisible, as they are to autograd.
"""

from __future__ import annotations

import os
import sys
import threading
import warnings
from bisect import bisect_right
from collections.abc import Callable
from types import CodeType
from typing import Any

import torch
from torch.nn.modules.module import (
    register_module_forward_hook,
    register_module_forward_pre_hook,
)
from torch.optim.optimizer import (
    register_optimizer_step_post_hook,
    register_optimizer_step_pre_hook,
)
from torch.overrides import TorchFunctionMode

from graphscope._tensors import _TORCH_DIR, is_internal, storage_key
from graphscope.model import Events, GradRead, InplaceWrite, OpCall, OptimizerStep

__all__ = ["Recorder"]

Where = tuple[str | None, str | None, int | None, str | None]

_get_seq = torch._C._autograd._get_sequence_nr
_get_ident = threading.get_ident
_compiler = torch.compiler
_Tensor = torch.Tensor

_LEAF_INPLACE = "leaf Variable that requires grad is being used in an in-place operation"
_INPLACE_DUNDERS = frozenset(
    f"__i{op}__"
    for op in (
        "add",
        "sub",
        "mul",
        "matmul",
        "truediv",
        "floordiv",
        "mod",
        "pow",
        "and",
        "or",
        "xor",
        "lshift",
        "rshift",
    )
) | {"__setitem__"}
_WRITER_NAMES = frozenset({"batch_norm", "instance_norm"})

# kinds of torch callables
_PLAIN = 0  # cannot write its tensor arguments (unless out=/inplace=True)
_WRITER = 1  # may write: diff the versions of its tensor arguments
_GRAD = 2  # the ``Tensor.grad`` getter


def _classify(func: Any) -> tuple[int, str]:
    """``(kind, api name)`` of a callable the mode sees."""
    name = getattr(func, "__name__", None)
    if name in ("__get__", "__set__"):  # a property: Tensor.grad, Tensor.T, ...
        prop = getattr(getattr(func, "__self__", None), "__name__", None) or name
        return (_GRAD if prop == "grad" and name == "__get__" else _PLAIN), prop
    if not isinstance(name, str):
        return _PLAIN, str(func)
    if name in _INPLACE_DUNDERS or name in _WRITER_NAMES:
        return _WRITER, name
    if name.endswith("_") and not name.startswith("__"):
        return _WRITER, name
    return _PLAIN, name


def _tensor_args(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[torch.Tensor]:
    """Tensor arguments, one level into lists and tuples (``_foreach_*``, ``out=(a, b)``)."""
    out = []
    for a in (*args, *kwargs.values()):
        if isinstance(a, _Tensor):
            out.append(a)
        elif isinstance(a, (list, tuple)):
            out.extend(x for x in a if isinstance(x, _Tensor))
    return out


_USER, _DISPATCH, _LIBRARY = 0, 1, 2
#: torch files that only route a call to its implementation (Tensor methods, F.*, overrides)
_DISPATCH_FILES = frozenset(
    os.path.join(_TORCH_DIR, *p.split("/"))
    for p in ("overrides.py", "_tensor.py", "functional.py", "nn/functional.py", "_jit_internal.py")
)


def _frame_kind(filename: str) -> int:
    if not is_internal(filename):
        return _USER
    if filename.startswith(_TORCH_DIR) and filename not in _DISPATCH_FILES:
        return _LIBRARY
    return _DISPATCH


def _version(t: torch.Tensor) -> int | None:
    try:
        return int(t._version)
    except Exception:  # inference tensors track no version
        return None


class _Mode(TorchFunctionMode):
    """The TorchFunctionMode; all state lives on the recorder."""

    def __init__(self, rec: Recorder) -> None:
        super().__init__()
        self.rec = rec

    def __torch_function__(
        self,
        func: Any,
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        if kwargs is None:
            kwargs = {}
        rec = self.rec
        if _compiler._is_compiling_flag or _get_ident() != rec._thread or rec._pause_pending:
            return func(*args, **kwargs)
        kind = rec._kinds.get(func)
        if kind is None:
            try:
                kind = rec._classify(func)
            except Exception:  # never let our bookkeeping break the user's call
                rec.internal_errors += 1
                rec._kinds[func] = kind = _PLAIN
                rec._apis[func] = getattr(func, "__name__", "?")
        if kwargs and (kwargs.get("out") is not None or kwargs.get("inplace") is True):
            kind = _WRITER
        if kind == _PLAIN:
            lo = _get_seq()
            out = func(*args, **kwargs)
            if _get_seq() != lo:
                try:
                    rec._op(func, lo, _get_seq())
                except Exception:
                    rec.internal_errors += 1
            return out
        if kind == _GRAD:
            return rec._grad_get(func, args, kwargs)
        return rec._write_call(func, args, kwargs)


class Recorder:
    """Records the forward side of a program into ``events`` (see the module docstring)."""

    def __init__(
        self,
        events: Events,
        *,
        name_of: Callable[[torch.Tensor, bool], str | None] = lambda t, variables: None,
        backward_count: Callable[[], int] = lambda: 0,
        source: bool = True,
        inplace: bool = True,
        modules: bool = True,
    ) -> None:
        self.events = events
        self.name_of = name_of
        self.backward_count = backward_count
        self._source = source
        self._inplace = inplace
        self._modules = modules
        self._thread = -1
        self._mode: _Mode | None = None
        self._handles: list[Any] = []
        self._module_handles: list[Any] = []
        self._paused = False
        self._pause_pending = False
        self.internal_errors = 0  # bookkeeping failures swallowed (the user's calls ran anyway)
        self.last_write_seq = -1  # sequence counter at the last recorded write
        self._kinds: dict[Any, int] = {}  # torch callable -> _PLAIN / _WRITER / _GRAD
        self._apis: dict[Any, str] = {}  # torch callable -> api name
        self._internal: dict[CodeType, int] = {}  # code object -> _USER / _DISPATCH / _LIBRARY
        # recorded ops, sorted by seq_lo (one thread: the counter only grows)
        self._op_lo: list[int] = []
        self._ops: list[OpCall] = []
        # module spans in pre-order: [lo, hi (None while open), path, parent span index]
        self._spans: list[list[Any]] = []
        self._stack: list[int] = []  # span indexes of the running modules, outermost first
        self._stack_ids: list[int] = []  # id() of those modules
        self._paths: dict[int, tuple[str, torch.nn.Module]] = {}  # under the running root
        self._paths_root = -1  # id() of the root _paths was built for
        self._ran: dict[int, tuple[str, torch.nn.Module]] = {}
        self._roots: dict[int, torch.nn.Module] = {}
        # inside optimizer.step(): ids of its params, and names already asked for
        self._step_params: set[int] | None = None
        self._step_names: dict[int, str | None] = {}

    # install / uninstall --------------------------------------------------------------------

    def install(self) -> None:
        """Start recording in the calling thread."""
        if self._mode is not None:
            return
        self._thread = _get_ident()
        try:
            if self._modules:
                self._module_handles.append(register_module_forward_pre_hook(self._pre))
                self._module_handles.append(
                    register_module_forward_hook(self._post, always_call=True)
                )
            self._handles.append(register_optimizer_step_pre_hook(self._step_pre))
            self._handles.append(register_optimizer_step_post_hook(self._step_post))
            mode = _Mode(self)
            mode.__enter__()
            self._mode = mode
        except BaseException:
            self.uninstall()
            raise

    def uninstall(self) -> None:
        """Remove everything :meth:`install` added. Idempotent; safe after errors."""
        mode, self._mode = self._mode, None
        try:
            if mode is not None:
                _remove_mode(mode)
        finally:
            while self._handles:
                self._handles.pop().remove()
            while self._module_handles:
                self._module_handles.pop().remove()
            self._paused = False
            self._pause_pending = False
            seq = _get_seq()
            while self._stack:  # modules still running (an error escaped them): close spans
                self._spans[self._stack.pop()][1] = seq
            self._stack_ids.clear()
            self._ran.clear()
            self._roots.clear()
            self._paths = {}
            self._paths_root = -1
            self._internal.clear()
            self._kinds.clear()
            self._apis.clear()
            self._step_params = None
            self._step_names = {}

    def pause(self) -> None:
        """Stop the per-op recording (the mode and the module hooks: the costly parts); the
        optimizer step hooks stay. Inside a torch call (``Tensor.backward`` runs with our
        mode temporarily off the stack) the pause waits for a safe point: the next optimizer
        step or root module call. :meth:`resume` starts recording again."""
        if self._mode is None:
            return
        self._pause_pending = True
        self._apply_pause()

    def _apply_pause(self) -> None:
        mode = self._mode
        if not self._pause_pending or mode is None or self._stack or not _on_stack(mode):
            return
        self._pause_pending = False
        self._mode = None
        _remove_mode(mode)
        self._paused = True
        while self._module_handles:
            self._module_handles.pop().remove()

    def resume(self) -> None:
        self._pause_pending = False
        if not self._paused:
            return
        self._paused = False
        if self._modules:
            self._module_handles.append(register_module_forward_pre_hook(self._pre))
            self._module_handles.append(register_module_forward_hook(self._post, always_call=True))
        mode = _Mode(self)
        mode.__enter__()
        self._mode = mode

    def forget(self) -> None:
        """Drop the recorded ops and closed module spans (after a backward call has turned
        them into node attributes), so a long training loop keeps O(one step) of them."""
        self._op_lo.clear()
        self._ops.clear()
        if not self._stack:
            self._spans.clear()

    # queries --------------------------------------------------------------------------------

    def provenance(self, seq: int) -> Where | None:
        """``(api, file, line, module)`` of the call that created the node numbered ``seq``."""
        module = self._module_of(seq)
        i = bisect_right(self._op_lo, seq) - 1
        if i >= 0 and seq < self._ops[i].seq_hi:
            op = self._ops[i]
            return op.api, op.file, op.line, module
        if module is None:
            return None
        return None, None, None, module

    def modules_ran(self) -> list[tuple[str, torch.nn.Module]]:
        """``(path, module)`` of each module whose forward ran while installed, first path."""
        return list(self._ran.values())

    def root_modules(self) -> list[torch.nn.Module]:
        """The outermost modules that ran (not a submodule of another one that ran)."""
        roots = list(self._roots.values())
        inner: set[int] = set()
        for r in roots:
            for _, m in r.named_modules():
                if m is not r:
                    inner.add(id(m))
        return [r for r in roots if id(r) not in inner]

    # the recording --------------------------------------------------------------------------

    def _classify(self, func: Any) -> int:
        kind, api = _classify(func)
        self._kinds[func] = kind if self._inplace or kind == _PLAIN else _PLAIN
        self._apis[func] = api
        return self._kinds[func]

    def _where(self) -> tuple[str | None, int | None]:
        """File and line of the innermost frame outside torch and graphscope."""
        file, line, _ = self._site()
        return file, line

    def _site(self) -> tuple[str | None, int | None, bool]:
        """:meth:`_where`, and whether torch library code (``nn.init``, a module's forward,
        an optimizer) stands between that line and the op, beyond torch's dispatch layers."""
        if not self._source:
            return None, None, False
        cache = self._internal
        library = False
        f: Any = sys._getframe(3)
        while f is not None:
            code = f.f_code
            kind = cache.get(code)
            if kind is None:
                kind = cache[code] = _frame_kind(code.co_filename)
            if kind == _USER:
                return code.co_filename, f.f_lineno, library
            if kind == _LIBRARY:
                library = True
            f = f.f_back
        return None, None, library

    def _op(self, func: Any, lo: int, hi: int) -> None:
        file, line = self._where()
        stack = self._stack
        op = OpCall(
            self._apis[func], file, line, self._spans[stack[-1]][2] if stack else None, lo, hi
        )
        self.events.ops.append(op)
        los = self._op_lo
        if los and lo < los[-1]:  # never in one thread; keep the lookup sorted anyway
            i = bisect_right(los, lo)
            los.insert(i, lo)
            self._ops.insert(i, op)
            return
        los.append(lo)
        self._ops.append(op)

    def _name(self, t: torch.Tensor, variables: bool = True) -> str | None:
        if self._step_params is None or torch.is_grad_enabled():
            return self.name_of(t, variables)
        key = id(t)
        if key not in self._step_names:
            self._step_names[key] = self.name_of(t, variables)
        return self._step_names[key]

    def _write_call(self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        try:
            tensors = _tensor_args(args, kwargs)
            grad_enabled = torch.is_grad_enabled()
            if self._step_params is not None and not grad_enabled:  # inside optimizer.step()
                keep = self._step_params
                tensors = [t for t in tensors if id(t) in keep]
            before = [(_version(t), t.is_leaf, t.requires_grad) for t in tensors]
            api = self._apis[func]
        except Exception:  # never let our bookkeeping break the user's call
            self.internal_errors += 1
            return func(*args, **kwargs)
        lo = _get_seq()
        try:
            out = func(*args, **kwargs)
        except RuntimeError as err:
            msg = str(err)
            if _LEAF_INPLACE in msg and tensors:
                try:
                    target = args[0] if args and isinstance(args[0], _Tensor) else tensors[0]
                    for t, (v0, is_leaf, rg) in zip(tensors, before, strict=True):
                        if t is target:
                            self._record_write(
                                api, t, v0 or 0, v0 or 0, is_leaf, rg, grad_enabled, msg
                            )
                            break
                except Exception:  # the user's own error is what must propagate
                    self.internal_errors += 1
            raise
        try:
            hi = _get_seq()
            if hi != lo:
                self._op(func, lo, hi)
            for t, (v0, is_leaf, rg) in zip(tensors, before, strict=True):
                if v0 is None:
                    continue
                v1 = _version(t)
                if v1 is not None and v1 != v0:
                    self._record_write(api, t, v0, v1, is_leaf, rg, grad_enabled, None)
        except Exception:
            self.internal_errors += 1
        return out

    def _record_write(
        self,
        api: str,
        t: torch.Tensor,
        v0: int,
        v1: int,
        is_leaf: bool,
        requires_grad: bool,
        grad_enabled: bool,
        raised: str | None,
    ) -> None:
        file, line, library = self._site()
        # the first write to a tensor made inside torch's own code is weight initialization
        # (nn.init inside a module's constructor): named from the parameter table only, as a
        # scan of the user's variables costs a frame snapshot per write (50k writes for a big
        # model) and finds nothing. Optimizer steps and later writes are named as usual.
        initializing = library and v0 == 0 and raised is None and self._step_params is None
        name = self._name(t, variables=not initializing)
        if name is None and raised is not None and t._base is not None:
            name = self._name(t._base)  # ``w[0] = 5``: the leaf behind the view
        key = storage_key(t)
        self.last_write_seq = _get_seq()
        self.events.inplace.append(
            InplaceWrite(
                index=len(self.events.inplace),
                api=api,
                file=file,
                line=line,
                storage=-1 if key is None else key,
                version_before=v0,
                version_after=v1,
                name=name,
                is_leaf=bool(is_leaf),
                requires_grad=bool(requires_grad),
                grad_enabled=grad_enabled,
                raised=raised,
            )
        )

    def _grad_get(self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        t = args[0] if args else None
        if not isinstance(t, _Tensor) or t.is_leaf or t.retains_grad:
            return func(*args, **kwargs)
        # torch warns from C++ at the innermost Python frame, which is ours here: catch the
        # warning and emit it again at the caller's frame, under the user's own filters
        caller = sys._getframe(2)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = func(*args, **kwargs)
        glb = caller.f_globals
        for w in caught:
            warnings.warn_explicit(
                w.message,
                w.category,
                caller.f_code.co_filename,
                caller.f_lineno,
                module=glb.get("__name__", "<string>"),
                registry=glb.setdefault("__warningregistry__", {}),
                module_globals=glb,
            )
        if out is None:
            file, line = self._where()
            fn = t.grad_fn
            self.events.grad_reads.append(
                GradRead(self.name_of(t, True), file, line, fn.name() if fn is not None else None)
            )
        return out

    # module hooks ---------------------------------------------------------------------------

    def _pre(self, module: torch.nn.Module, inputs: Any) -> None:
        if _get_ident() != self._thread:
            return
        if self._pause_pending and not self._stack:
            self._apply_pause()
            if self._paused:
                return
        key = id(module)
        stack = self._stack
        if stack:
            parent = stack[-1]
            hit = self._paths.get(key)
            if hit is not None and hit[1] is module:
                path = hit[0]
            else:
                path = self._path_slow(module, parent)
        else:
            parent = -1
            path = type(module).__name__
            if key not in self._roots:
                self._roots[key] = module
            if self._paths_root != key:
                self._paths = {}
                self._paths_root = key
        if key not in self._ran:
            self._ran[key] = (path, module)
        stack.append(len(self._spans))
        self._stack_ids.append(key)
        self._spans.append([_get_seq(), None, path, parent])

    def _post(self, module: torch.nn.Module, inputs: Any, output: Any) -> None:
        if _get_ident() != self._thread:
            return
        ids = self._stack_ids
        key = id(module)
        if not ids or ids[-1] != key:
            if key not in ids:
                return
            while ids[-1] != key:  # modules whose post hook never ran (an error)
                self._close(ids)
        self._close(ids)

    def _close(self, ids: list[int]) -> None:
        ids.pop()
        idx = self._stack.pop()
        span = self._spans[idx]
        span[1] = seq = _get_seq()
        if seq == span[0]:
            # an empty span (no_grad, eval): it and everything opened inside it hold no node
            del self._spans[idx:]

    def _path_slow(self, module: torch.nn.Module, parent: int) -> str:
        """Path of ``module`` under the running root; rebuilds the root's table on a miss."""
        root = self._roots.get(self._stack_ids[0])
        if root is not None:
            paths: dict[int, tuple[str, torch.nn.Module]] = {}
            for name, m in root.named_modules():
                paths.setdefault(id(m), (name, m))
            self._paths = paths
            hit = paths.get(id(module))
            if hit is not None and hit[1] is module and hit[0]:
                return hit[0]
        path = f"{self._spans[parent][2]}.{type(module).__name__}"
        self._paths[id(module)] = (path, module)
        return path

    def _module_of(self, seq: int) -> str | None:
        spans = self._spans
        i = bisect_right(spans, seq, key=_span_lo) - 1
        while i >= 0:
            lo, hi, path, parent = spans[i]
            if hi is None or seq < hi:
                return str(path)
            i = parent
        return None

    # optimizer hooks --------------------------------------------------------------------------

    def _step_pre(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if _get_ident() != self._thread:
            return
        if self._pause_pending:  # a safe point: the step's own ops need not go through the mode
            self._apply_pause()
        if self._paused:
            return
        self._step_params = {id(p) for g in optimizer.param_groups for p in g["params"]}
        self._step_names = {}

    def _step_post(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if _get_ident() != self._thread:
            return
        try:
            names = []
            for g in optimizer.param_groups:
                for p in g["params"]:
                    if p.grad is not None and not (self._paused or self._pause_pending):
                        n = self._name(p)  # names cost a lookup per parameter: sampled steps only
                        if n is not None:
                            names.append(n)
            file, line = self._where()
            self.events.steps.append(
                OptimizerStep(
                    index=len(self.events.steps),
                    optimizer=type(optimizer).__name__,
                    after_call=self.backward_count(),
                    params=tuple(names),
                    file=file,
                    line=line,
                )
            )
        finally:
            self._step_params = None
            self._step_names = {}
            if self._pause_pending:
                self._apply_pause()


def _span_lo(span: list[Any]) -> int:
    return int(span[0])


def _on_stack(mode: TorchFunctionMode) -> bool:
    """Is ``mode`` on this thread's torch-function mode stack right now?"""
    n = torch._C._len_torch_function_stack()
    return any(torch._C._get_function_stack_at(i) is mode for i in range(n))


def _remove_mode(mode: TorchFunctionMode) -> None:
    """Take ``mode`` off this thread's torch-function mode stack, keeping the modes above it."""
    above = []
    try:
        while torch._C._len_torch_function_stack() > 0:
            top = torch._C._pop_torch_function_stack()
            if top is mode:
                break
            above.append(top)
    finally:
        while above:
            torch._C._push_on_torch_function_stack(above.pop())
