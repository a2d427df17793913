"""Which module ran each op: sequence-number spans from global forward pre/post hooks.

A span ``[lo, hi)`` of the autograd sequence counter is opened when a module's forward starts
and closed when it ends (``always_call=True``: also when it raises); the module of a backward
node is the narrowest span holding its ``_sequence_nr()`` (autograd-notes §5).

Paths name module *instances* the way the user does: an outermost module (one called while no
other runs) is named after the user's variable for it (``cell1``, ``netG``, ``blocks[3]``;
:func:`graphscope.names.module_name`), its submodules by their path under it
(``netG.main.2``, ``encoder.layers.0.self_attn``); ops in its own ``forward`` get its name, so
"made by the model itself" stays distinguishable from "made outside any module" (``None``).
A module the user's code does not hold gets its class name, numbered when two instances would
share it (``LSTMCell``, ``LSTMCell#2``). A module called through ``module.forward(x)`` runs no
hooks: its nodes belong to the caller. A module that is not a submodule of the outermost one
gets its own variable's name, else ``<caller path>.<ClassName>``.
"""

from __future__ import annotations

import threading
import weakref
from bisect import bisect_right
from collections.abc import Callable
from typing import Any

import torch
from torch.nn.modules.module import (
    register_module_forward_hook,
    register_module_forward_pre_hook,
    register_module_module_registration_hook,
)

from graphscope._tensors import user_frame, where
from graphscope.names import module_name, unwrap
from graphscope.recorder.guard import Guard
from graphscope.recorder.ops import KEEP_INTERVALS, cut_point

__all__ = ["ModuleSpans"]

_get_seq = torch._C._autograd._get_sequence_nr
_get_ident = threading.get_ident
_is_compiling = getattr(getattr(torch, "compiler", None), "is_compiling", lambda: False)


class ModuleSpans:
    """The module hooks and the spans they record (for one thread)."""

    def __init__(self, on_root_call: Callable[[], bool], guard: Guard | None = None) -> None:
        self.guard = guard or Guard()
        #: called before a root module's forward; True means "skip recording this call"
        #: (the recorder applied a pending pause there)
        self.on_root_call = on_root_call
        self.thread = -1
        self._handles: list[Any] = []
        # spans in pre-order: [lo, hi (None while open), path, parent span index]
        self._spans: list[list[Any]] = []
        self._stack: list[int] = []  # span indexes of the running modules, outermost first
        self._stack_ids: list[int] = []  # id() of those modules
        self._paths: dict[int, tuple[str, torch.nn.Module]] = {}  # under the running root
        self._paths_root = -1  # id() of the root _paths was built for
        self._ran: dict[int, tuple[str, torch.nn.Module]] = {}
        self._roots: dict[int, torch.nn.Module] = {}
        self._names: dict[int, tuple[str, torch.nn.Module]] = {}  # id -> (user's name, module)
        self._taken: dict[str, int] = {}  # name -> id() of the module that has it
        self._marks: list[int] = []  # the sequence counter at the last forget() calls
        self._built: set[int] = set()  # id() of modules whose forward made backward nodes
        #: where each in-place module (``inplace=True``) was made a submodule: its constructor
        self._made: weakref.WeakKeyDictionary[torch.nn.Module, tuple[str | None, int | None]] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def hooked(self) -> bool:
        """Are the hooks installed?"""
        return bool(self._handles)

    @property
    def running(self) -> bool:
        """Is a module's forward running now?"""
        return bool(self._stack)

    def current(self) -> str | None:
        """The path of the innermost module running now."""
        return str(self._spans[self._stack[-1]][2]) if self._stack else None

    def current_module(self) -> torch.nn.Module | None:
        """The innermost module running now."""
        if not self._stack_ids:
            return None
        key = self._stack_ids[-1]
        hit = self._paths.get(key)
        return hit[1] if hit is not None else self._roots.get(key)

    def outermost(self) -> torch.nn.Module | None:
        """The outermost module running now."""
        return self._roots.get(self._stack_ids[0]) if self._stack_ids else None

    def named(self, path: str) -> torch.nn.Module | None:
        """A module that ran under ``path`` (its first path)."""
        return next((m for p, m in self._ran.values() if p == path), None)

    def built_graph(self) -> set[int]:
        """``id()`` of the modules whose forward made backward nodes at least once."""
        return self._built

    def install(self) -> None:
        self.thread = _get_ident()
        guard = self.guard.hook
        self._handles.append(register_module_forward_pre_hook(guard("a module's call", self._pre)))
        self._handles.append(
            register_module_forward_hook(guard("a module's call", self._post), always_call=True)
        )
        self._handles.append(
            register_module_module_registration_hook(
                guard("a module's registration", self._registered)
            )
        )

    def remove_hooks(self) -> None:
        while self._handles:
            self._handles.pop().remove()

    def uninstall(self) -> None:
        """Remove the hooks, close the spans of modules still running (an error escaped
        them) and forget every module."""
        self.remove_hooks()
        seq = _get_seq()
        while self._stack:
            self._spans[self._stack.pop()][1] = seq
        self._stack_ids.clear()
        self._ran.clear()
        self._roots.clear()
        self._names.clear()
        self._taken.clear()
        self._built.clear()
        self._paths = {}
        self._paths_root = -1
        self._marks.clear()

    def forget(self) -> None:
        """A backward call ended: drop the spans of modules that ran before the last few such
        calls (see :func:`graphscope.recorder.ops.cut_point`)."""
        spans = self._spans
        self._marks.append(len(spans))
        cut = cut_point(self._marks, len(spans))
        if self._stack or not cut:  # a module is running: indexes must stay put
            del self._marks[: -KEEP_INTERVALS - 1]
            return
        for i in range(cut):  # a span still open at the cut (backward inside a forward) stays
            if spans[i][1] is None or (cut < len(spans) and spans[i][1] > spans[cut][0]):
                cut = i
                break
        if cut:
            del spans[:cut]
            for span in spans:
                span[3] = span[3] - cut if span[3] >= cut else -1
            self._marks = [m - cut for m in self._marks if m - cut > 0]
        del self._marks[: -KEEP_INTERVALS - 1]

    def module_of(self, seq: int) -> str | None:
        """The path of the narrowest module span holding sequence number ``seq``."""
        spans = self._spans
        i = bisect_right(spans, seq, key=_span_lo) - 1
        while i >= 0:
            lo, hi, path, parent = spans[i]
            if hi is None or seq < hi:
                return str(path)
            i = parent
        return None

    def modules_ran(self) -> list[tuple[str, torch.nn.Module]]:
        """``(path, module)`` of each module whose forward ran while installed, first path."""
        return list(self._ran.values())

    def root_ids(self) -> tuple[int, ...]:
        """``id()`` of the modules that ran as outermost ones (cheap: for cache keys)."""
        return tuple(self._roots)

    def root_modules(self) -> list[torch.nn.Module]:
        """The outermost modules that ran (not a submodule of another one that ran)."""
        return [m for _, m in self.named_roots()]

    def named_roots(self) -> list[tuple[str, torch.nn.Module]]:
        """``(path, module)`` of :meth:`root_modules`: the names their ops' paths start with."""
        roots = list(self._roots.values())
        inner: set[int] = set()
        for r in roots:
            for _, m in r.named_modules():
                if m is not r:
                    inner.add(id(m))
        return [(self._names[id(r)][0], r) for r in roots if id(r) not in inner]

    def _name(self, module: torch.nn.Module, fallback: str | None) -> str:
        """The user's name for ``module`` (found once, then kept), unique among the modules
        named so far; ``fallback`` (else the class name) when the user's code does not hold
        it."""
        key = id(module)
        hit = self._names.get(key)
        if hit is not None and hit[1] is module:
            return hit[0]
        try:
            found = module_name(user_frame(), module)
        except Exception:  # never let naming break the user's call
            found = None
        name = found if found is not None else (fallback or type(module).__name__)
        base, n = name, 1
        while self._taken.get(name, key) != key:
            n += 1
            name = f"{base}#{n}"
        self._taken[name] = key
        self._names[key] = (name, module)
        return name

    def made_at(self, module: torch.nn.Module) -> tuple[str | None, int | None]:
        """The user's line that made ``module`` a submodule (``self.act = nn.ReLU(inplace=True)``,
        ``nn.Sequential(..., nn.ReLU(inplace=True))``), for in-place modules; else (None, None)."""
        try:
            return self._made.get(module, (None, None))
        except TypeError:
            return None, None

    # the hooks ---------------------------------------------------------------------------------

    def _registered(self, parent: torch.nn.Module, name: str, module: Any) -> None:
        """A submodule was assigned: for an in-place one (the only ones a finding points to at
        their constructor), remember the user's line. One attribute read per registration."""
        if getattr(module, "inplace", False) is not True or _get_ident() != self.thread:
            return
        try:
            if module not in self._made:
                self._made[module] = where(user_frame())
        except Exception:  # never let our bookkeeping break the user's model
            pass

    def _pre(self, module: torch.nn.Module, inputs: Any) -> None:
        if _is_compiling() or _get_ident() != self.thread:  # dynamo tracing: not a real call
            return
        key = id(module)
        stack = self._stack
        if stack:
            parent = stack[-1]
            hit = self._paths.get(key)
            path = (
                hit[0] if hit is not None and hit[1] is module else self._path_slow(module, parent)
            )
        else:
            if self.on_root_call():
                return
            parent = -1
            path = self._name(module, None)
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
        if _is_compiling() or _get_ident() != self.thread:
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
        key = ids.pop()
        idx = self._stack.pop()
        span = self._spans[idx]
        span[1] = seq = _get_seq()
        if seq == span[0]:
            # an empty span (no_grad, eval): it and everything opened inside it hold no node
            del self._spans[idx:]
        else:
            self._built.add(key)

    def _path_slow(self, module: torch.nn.Module, parent: int) -> str:
        """Path of ``module`` under the running root; rebuilds the root's table on a miss."""
        root_key = self._stack_ids[0]
        root = self._roots.get(root_key)
        if root is not None:
            top = self._names[root_key][0]
            paths: dict[int, tuple[str, torch.nn.Module]] = {}
            # a DDP-wrapped model has the paths it has unwrapped (``head``, not ``module.head``)
            for name, m in unwrap(root).named_modules():
                paths.setdefault(id(m), (f"{top}.{name}" if name else top, m))
            self._paths = paths
            hit = paths.get(id(module))
            if hit is not None and hit[1] is module and hit[1] is not root:
                return hit[0]
        path = self._name(module, f"{self._spans[parent][2]}.{type(module).__name__}")
        self._paths[id(module)] = (path, module)
        return path


def _span_lo(span: list[Any]) -> int:
    return int(span[0])
