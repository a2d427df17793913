"""In-place writes and ``.grad`` reads: the calls of the recorder's mode that are not plain ops.

A call that may write (see :func:`graphscope.recorder.mode.classify`) reads ``_version`` of its
tensor arguments before and after; a rise is an :class:`~graphscope.model.InplaceWrite`. An
in-place call on a leaf that requires grad, which torch refuses, is recorded with torch's message
and re-raised unchanged. A read of ``.grad`` on a non-leaf that does not retain its gradient is a
:class:`~graphscope.model.GradRead`.
"""

from __future__ import annotations

from collections.abc import Callable
from types import FrameType
from typing import Any

import torch

from graphscope._tensors import outside_modes, storage_key
from graphscope.model import Events, GradRead, InplaceWrite
from graphscope.recorder.callsite import call_from
from graphscope.recorder.ops import OpLog
from graphscope.recorder.sites import Sites

__all__ = ["Writes"]

_get_seq = torch._C._autograd._get_sequence_nr
_Tensor = torch.Tensor
_LEAF_INPLACE = "leaf Variable that requires grad is being used in an in-place operation"

NameOf = Callable[[torch.Tensor, bool], "str | None"]
#: ``on_writes(written, in_step)``: the tensors one call wrote, with their events
OnWrites = Callable[[list[tuple[torch.Tensor, InplaceWrite]], bool], None]
#: calls :meth:`Writes.call` hands to ``on_alias`` (see :mod:`graphscope.recorder.aliases`)
ALIAS_APIS = frozenset(
    {"detach", "numpy", "untyped_storage", "data =", "argmax", "argmin", "argsort"}
)
#: (module path, module text, producer's path, producer's text, the module's constructor file
#: and line) of a write inside a module
Described = tuple[
    "str | None", "str | None", "str | None", "str | None", "str | None", "int | None"
]
_NOT_DESCRIBED: Described = (None, None, None, None, None, None)
#: ``torch.autograd.gradcheck``/``gradgradcheck`` perturb their inputs in place through
#: ``.data`` and put the values back: torch's own writes, undone, not the user's
_GRADCHECK_FILE = torch.autograd.gradcheck.__code__.co_filename


def tensor_args(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[torch.Tensor]:
    """Tensor arguments, one level into lists and tuples (``_foreach_*``, ``out=(a, b)``)."""
    out = []
    for a in (*args, *kwargs.values()):
        if isinstance(a, _Tensor):
            out.append(a)
        elif isinstance(a, (list, tuple)):
            out.extend(x for x in a if isinstance(x, _Tensor))
    return out


def leaf_flags(t: torch.Tensor) -> tuple[bool, bool]:
    """``(is_leaf, requires_grad)`` of ``t``, read without side effects. Reading ``is_leaf`` or
    ``grad_fn`` of a view whose base was written since makes torch rebuild the view's
    ``grad_fn``, after which torch no longer refuses an in-place write into it as "a leaf
    Variable that requires grad" (the program would take another path): so a view counts as a
    leaf exactly when it does not require grad (a view that requires grad has a history)."""
    requires_grad = bool(t.requires_grad)
    if t._is_view():
        return not requires_grad, requires_grad
    return bool(t.is_leaf), requires_grad


def _version(t: torch.Tensor) -> int | None:
    try:
        return int(t._version)
    except Exception:  # inference tensors track no version
        return None


class Writes:
    """Runs one writing call or ``.grad`` read for the mode, and records what it did."""

    def __init__(self, events: Events, sites: Sites, ops: OpLog, name: NameOf) -> None:
        self.events = events
        self.sites = sites
        self.ops = ops
        self.name = name
        self.last_write_seq = -1  # sequence counter at the last recorded write
        self.count = 0  # writes recorded so far (the session prunes the list; indexes stay unique)
        #: inside optimizer.step(): ids of its parameters (only their writes are recorded)
        self.step_params: set[int] | None = None
        #: ``(op, args, kwargs)`` after a call that made backward nodes (the recorder's)
        self.on_op: Callable[[Any, tuple[Any, ...], dict[str, Any]], None] = lambda *a: None
        #: calls that hand out aliases or cut the graph (``detach``, ``numpy``, ``data =``)
        self.on_alias: Callable[..., Any] | None = None
        #: ``t -> (module path, text, producer path, producer text)`` for a write in a module
        self.describe: Callable[[torch.Tensor], Described] = lambda t: _NOT_DESCRIBED
        #: ``(written, in_step)`` after a call that wrote (``--pdb``: may stop there), else None
        self.on_writes: OnWrites | None = None
        self._fresh: list[tuple[torch.Tensor, InplaceWrite]] = []  # for on_writes only

    def call(
        self,
        func: Any,
        api: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        module: Callable[[], str | None],
        frame: FrameType,
    ) -> Any:
        """Run ``func(*args, **kwargs)`` (from ``frame``: see :mod:`~graphscope.recorder.callsite`),
        recording its op and the versions it moved. Only the call itself runs under the user's
        own modes: the bookkeeping around it is invisible to them."""
        if api in ALIAS_APIS and self.on_alias is not None:
            return self.on_alias(func, api, args, kwargs, frame)
        if frame.f_code.co_filename == _GRADCHECK_FILE:
            return call_from(frame, func, args, kwargs)
        try:
            grad_enabled = torch.is_grad_enabled()
            tensors, before = self._before(args, kwargs, grad_enabled)
        except Exception:  # never let our bookkeeping break the user's call
            return call_from(frame, func, args, kwargs)
        lo = _get_seq()
        try:
            out = call_from(frame, func, args, kwargs)
        except RuntimeError as err:
            if _LEAF_INPLACE in str(err) and tensors:
                self._refused(api, args, tensors, before, grad_enabled, str(err))
            raise
        try:
            self._after(api, module, lo, tensors, before, grad_enabled, args, kwargs)
        except Exception:
            pass
        if self._fresh and self.on_writes is not None:  # outside the try: pdb's q ends the run
            fresh, self._fresh = self._fresh, []
            self.on_writes(fresh, self.step_params is not None)
        return out

    @outside_modes
    def _before(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], grad_enabled: bool
    ) -> tuple[list[torch.Tensor], list[tuple[int | None, bool, bool]]]:
        tensors = tensor_args(args, kwargs)
        if self.step_params is not None and not grad_enabled:  # inside optimizer.step()
            keep = self.step_params
            tensors = [t for t in tensors if id(t) in keep]
        return tensors, [(_version(t), *leaf_flags(t)) for t in tensors]

    @outside_modes
    def _after(
        self,
        api: str,
        module: Callable[[], str | None],
        lo: int,
        tensors: list[torch.Tensor],
        before: list[tuple[int | None, bool, bool]],
        grad_enabled: bool,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        hi = _get_seq()
        if hi != lo:
            self.on_op(self.ops.add(api, module(), lo, hi), args, kwargs)
        for t, (v0, is_leaf, rg) in zip(tensors, before, strict=True):
            if v0 is None:
                continue
            v1 = _version(t)
            if v1 is not None and v1 != v0:
                self._record(api, t, (v0, v1), (is_leaf, rg, grad_enabled), None, lo)

    @outside_modes
    def _refused(
        self,
        api: str,
        args: tuple[Any, ...],
        tensors: list[torch.Tensor],
        before: list[tuple[int | None, bool, bool]],
        grad_enabled: bool,
        msg: str,
    ) -> None:
        try:
            target = args[0] if args and isinstance(args[0], _Tensor) else tensors[0]
            view_of_leaf = "a view of a leaf" in msg  # torch says which one it refused
            for t, (v0, _, rg) in zip(tensors, before, strict=True):
                if t is target:
                    flags = (not view_of_leaf, rg, grad_enabled)
                    self._record(api, t, (v0 or 0, v0 or 0), flags, msg, _get_seq())
                    break
        except Exception:  # the user's own error is what must propagate
            pass

    def _record(
        self,
        api: str,
        t: torch.Tensor,
        versions: tuple[int, int],
        flags: tuple[bool, bool, bool],
        raised: str | None,
        seq: int,
    ) -> None:
        file, line, library = self.sites.site()
        v0, v1 = versions
        is_leaf, requires_grad, grad_enabled = flags
        # the first write to a tensor made inside torch's own code is weight initialization
        # (nn.init inside a module's constructor): named from the parameter table only, as a
        # scan of the user's variables costs a frame snapshot per write (50k writes for a big
        # model) and finds nothing. Optimizer steps and later writes are named as usual.
        initializing = library and v0 == 0 and raised is None and self.step_params is None
        name = self.name(t, not initializing)
        if name is None and raised is not None and t._base is not None:
            name = self.name(t._base, True)  # ``w[0] = 5``: the leaf behind the view
        key = storage_key(t)
        self.last_write_seq = _get_seq()
        inside = library and raised is None and self.step_params is None
        module = self.describe(t) if inside else _NOT_DESCRIBED
        self.count += 1
        write = InplaceWrite(
            index=self.count - 1,
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
            seq=seq,
            module=module[0],
            module_text=module[1],
            producer_module=module[2],
            producer_text=module[3],
            module_file=module[4],
            module_line=module[5],
        )
        self.events.inplace.append(write)
        if self.on_writes is not None and raised is None:
            self._fresh.append((t, write))

    def grad_get(
        self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], frame: FrameType
    ) -> Any:
        """``t.grad``; a read that returns None on a non-leaf is recorded. torch's own warning
        about it is raised from ``frame`` (the reader's line, under the user's filters and
        once-per-location registry: see :mod:`~graphscope.recorder.callsite`)."""
        out = call_from(frame, func, args, kwargs)
        t = args[0] if args else None
        if out is None and isinstance(t, _Tensor):
            try:
                self._none_read(t)
            except Exception:  # never let our bookkeeping break the user's read
                pass
        return out

    @outside_modes
    def _none_read(self, t: torch.Tensor) -> None:
        """A ``.grad`` read that gave None: recorded when ``t`` is a non-leaf."""
        is_leaf, _ = leaf_flags(t)
        if is_leaf or t.retains_grad:
            return
        file, line = self.sites.where()
        fn = None if t._is_view() else t.grad_fn  # a view's grad_fn: see leaf_flags
        self.events.grad_reads.append(
            GradRead(self.name(t, True), file, line, fn.name() if fn is not None else None)
        )
