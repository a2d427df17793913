"""The names a ``watch`` session gives tensors: in its events, and in each capture."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import FrameType
from typing import Any

import torch

from graphscope._gc import gc_paused
from graphscope._tensors import frame_variable, user_frame
from graphscope.names import Names, module_names

__all__ = ["SessionNames"]


class SessionNames:
    """Explicit ``names=``, then ``params=``, then the modules that ran (``named_roots()``,
    from the recorder: their parameters are named with the path their ops have, ``cell1.weight_ih``),
    then the modules and variables of the user's code."""

    def __init__(
        self,
        names: Mapping[str, torch.Tensor] | None,
        params: Any,
        root_modules: Callable[[], list[tuple[str, torch.nn.Module]]],
        root_ids: Callable[[], tuple[int, ...]],
        graphless: Callable[[], tuple[set[int], set[int], set[int]]] = lambda: (
            set(),
            set(),
            set(),
        ),
    ) -> None:
        self.explicit = {n: v for n, v in (names or {}).items() if isinstance(v, torch.Tensor)}
        self.params = params
        self._root_modules = root_modules
        self._root_ids = root_ids
        #: ``(ran, built, replaced)``: ids of the modules whose forward ran, of those that made
        #: backward nodes, and of those whose parameters functional_call replaced
        self._graphless = graphless
        self._table: dict[int, str] | None = None
        self._table_roots: tuple[int, ...] = ()
        #: the table names parameters through a method's ``self``; the code it was built in
        self._provisional = False
        self._built_in: Any = None
        #: (roots, code, line) where a parameter missed the table and it was built again
        self._retried: set[tuple[tuple[int, ...], int, int]] = set()

    def name_of(self, t: torch.Tensor, variables: bool = True) -> str | None:
        """A tensor's name for the recorder's events: parameters from a table built once per
        set of root modules, other tensors (with ``variables``) from the calling frame's
        variables."""
        roots = self._root_ids()
        if self._table is None or roots != self._table_roots:
            with gc_paused():
                self._table = self._param_table(roots)
        elif self._provisional:
            # built inside a method (``self.fc.weight``): the caller's names win once seen
            frame = user_frame(2)
            if frame is not None and frame.f_code is not self._built_in:
                with gc_paused():
                    self._table = self._param_table(roots)
        hit = self._table.get(id(t))
        if hit is None and isinstance(t, torch.nn.Parameter):
            # the table may predate the model: built while ``model = Net()`` ran (an init
            # write), with no module run since to renew it (a compiled forward runs no hooks)
            frame = user_frame(2)
            at = (roots, id(frame.f_code), frame.f_lineno) if frame is not None else None
            if at is not None and at not in self._retried:
                self._retried.add(at)
                with gc_paused():
                    self._table = self._param_table(roots)
                hit = self._table.get(id(t))
        if hit is not None or not variables:
            return hit
        return frame_variable(user_frame(2), t)

    def _param_table(self, roots: tuple[int, ...]) -> dict[int, str]:
        table = self._base()
        frame = user_frame(2)
        self._built_in = frame.f_code if frame is not None else None
        if self.params is not None:
            table.add_params(self.params, _prefix(self.params, frame))
        for name, m in self._root_modules():
            table.add_params(m, name + ".")
        table.add_frame(frame, variables=False)  # modules only: names that last
        self._table_roots = roots
        names = dict(table.name)
        self._provisional = any(n.startswith(("self.", "self[")) for n in names.values())
        return names

    def for_capture(self, frame: FrameType | None) -> tuple[Names, list[int]]:
        """Names for a capture, and the parameters expected to be reached: those of ``params``,
        and those of the modules whose forward ran with gradients on (:func:`_expected`). None
        for a backward call made inside a ``torch.func`` transform (it differentiates the
        function's own inputs)."""
        table = self._base()
        expected: set[int] = set()
        if self.params is not None:
            expected.update(table.add_params(self.params, _prefix(self.params, frame)))
        named = self._root_modules()
        for name, m in named:
            table.add_params(m, name + ".")
        table.add_frame(frame)
        if _in_transform():
            return table, []
        expected |= _expected([m for _, m in named], *self._graphless())
        candidates = [k for k in table.name if k in table.params and k in expected]
        return table, candidates

    def _base(self) -> Names:
        table = Names()
        for n, v in self.explicit.items():
            table.add(n, v)
        return table


def _prefix(params: Any, frame: FrameType | None) -> str:
    """``"model."`` for ``params=model`` held as ``model``; ``""`` for a mapping or pairs."""
    if not isinstance(params, torch.nn.Module):
        return ""
    hit = module_names(frame).get(id(params))
    return hit[0] + "." if hit is not None else ""


def _in_transform() -> bool:
    """Is a ``torch.func`` transform (grad, vmap, ...) running?"""
    try:
        return torch._C._functorch.maybe_current_level() is not None
    except Exception:
        return False


def _expected(
    roots: list[torch.nn.Module], ran: set[int], built: set[int], replaced: set[int]
) -> set[int]:
    """``id()`` of the parameters a backward through ``roots`` could have been meant to reach.

    A module's parameters are expected when the nearest module that ran, among it and its
    ancestors, made backward nodes: a module left out of ``forward`` (``aux_head``) under one
    that did is expected; one run only under ``no_grad`` or inside an eval fast path (a
    ``TransformerEncoderLayer`` whose submodules never run) is not, nor is one whose parameters
    ``functional_call`` replaced.
    """
    out: set[int] = set()
    for r in roots:
        stack: list[tuple[torch.nn.Module, bool]] = [(r, id(r) in built)]
        while stack:
            m, state = stack.pop()
            key = id(m)
            if key in replaced:
                continue
            if key in ran:
                state = key in built
            if state:
                out.update(id(p) for p in m._parameters.values() if p is not None)
            stack.extend((c, state) for c in m._modules.values() if c is not None)
    return out
