"""The autograd entry points ``watch`` wraps, and nothing else: patch on install, restore on exit.

Every top-level ``Tensor.backward``, ``torch.autograd.backward`` and ``torch.autograd.grad`` (and
what calls them: optimizer closures, checkpoint, ``torch.autograd.functional``) goes through
``torch.autograd.graph._engine_run_backward``, which torch itself binds under two names
(autograd-notes §7). Both names are wrapped, so the graph is captured *before* the engine frees
it; the public ``backward``/``grad`` are wrapped too, for their arguments (``gradient=``) and for
the errors they raise before the engine runs (a non-scalar root). Only the thread that installed
the hooks is watched, and only top-level calls (``_current_graph_task_id() == -1``): a backward
run inside another one (reentrant checkpoint) belongs to its outer call. A top-level call in
another thread is counted (the report says how many were not captured) and runs untouched.
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable
from typing import Any, Protocol

import torch

from graphscope._tensors import user_frame, where
from graphscope.recorder.callsite import call_from
from graphscope.watcher.calls import PublicCall

__all__ = ["EngineHooks", "Listener"]

_is_compiling = getattr(getattr(torch, "compiler", None), "is_compiling", lambda: False)


class Listener(Protocol):
    """What :class:`EngineHooks` calls (the session)."""

    def on_engine(
        self,
        orig: Callable[..., Any],
        t_outputs: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        public: PublicCall | None,
    ) -> Any: ...

    def on_failed(
        self, public: PublicCall, args: tuple[Any, ...], kwargs: dict[str, Any], err: Exception
    ) -> None: ...

    def on_internal(self, what: str, err: Exception) -> None: ...

    def on_other_thread(self, thread: str) -> None: ...


class EngineHooks:
    """Wraps the engine entry points while installed; hands each top-level call to ``listener``."""

    def __init__(self, listener: Listener) -> None:
        self.listener = listener
        self.thread = threading.get_ident()
        self._public = threading.local()  # .call: the PublicCall in progress in this thread
        self._busy = False
        self._restore: list[Callable[[], None]] = []

    def install(self) -> None:
        graph_mod, auto_mod = torch.autograd.graph, torch.autograd
        orig_engine = getattr(graph_mod, "_engine_run_backward", None)
        if orig_engine is not None:
            wrapped = self._wrap_engine(orig_engine)
            for mod in (graph_mod, auto_mod):
                if getattr(mod, "_engine_run_backward", None) is orig_engine:
                    self._patch(mod, "_engine_run_backward", wrapped)
        self._patch(
            auto_mod,
            "backward",
            self._wrap_public(auto_mod.backward, "backward", "grad_tensors", 1),
        )
        self._patch(auto_mod, "grad", self._wrap_public(auto_mod.grad, "grad", "grad_outputs", 2))

    def uninstall(self) -> None:
        while self._restore:
            self._restore.pop()()

    def _patch(self, mod: Any, attr: str, new: Any) -> None:
        old = getattr(mod, attr)
        setattr(mod, attr, new)
        self._restore.append(lambda: setattr(mod, attr, old))

    def _wrap_public(
        self, orig: Callable[..., Any], api: str, grad_kw: str, grad_pos: int
    ) -> Callable[..., Any]:
        hooks = self

        @functools.wraps(orig)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            state = hooks._public
            frame = sys._getframe(1)  # torch's own warnings come from our caller (callsite)
            if (
                getattr(state, "call", None) is not None
                or threading.get_ident() != hooks.thread
                or _is_compiling()
            ):
                return call_from(frame, orig, args, kwargs)
            try:
                given = kwargs.get(grad_kw) is not None or (
                    len(args) > grad_pos and args[grad_pos] is not None
                )
                file, line = where(user_frame(2))
            except Exception as err:
                hooks.listener.on_internal("reading a backward call's arguments", err)
                return call_from(frame, orig, args, kwargs)
            public = PublicCall(api, file, line, given)
            state.call = public
            try:
                return call_from(frame, orig, args, kwargs)
            except Exception as err:
                if not public.reached_engine:  # raised before the engine ran (e.g. non-scalar)
                    try:
                        hooks.listener.on_failed(public, args, kwargs, err)
                    except Exception as ours:  # the user's error is what propagates
                        hooks.listener.on_internal("recording a failed backward call", ours)
                raise
            finally:
                state.call = None

        return wrapper

    def _wrap_engine(self, orig: Callable[..., Any]) -> Callable[..., Any]:
        hooks = self

        @functools.wraps(orig)
        def engine(t_outputs: Any, *args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() != hooks.thread:
                if torch._C._current_graph_task_id() == -1:  # a top-level call we will miss
                    try:
                        hooks.listener.on_other_thread(threading.current_thread().name)
                    except Exception:
                        pass
                return orig(t_outputs, *args, **kwargs)
            if hooks._busy or torch._C._current_graph_task_id() != -1 or _is_compiling():
                # a nested call, or AOTAutograd tracing a compiled region's backward
                return orig(t_outputs, *args, **kwargs)
            hooks._busy = True
            try:
                public = getattr(hooks._public, "call", None)
                if public is not None:
                    public.reached_engine = True
                return hooks.listener.on_engine(orig, t_outputs, args, kwargs, public)
            finally:
                hooks._busy = False

        return engine
