"""``graphscope.watch()``: record a PyTorch program's autograd activity as plain data.

>>> import torch, graphscope
>>> w = torch.tensor([1.0], requires_grad=True)
>>> with graphscope.watch() as scope:
...     for _ in range(2):
...         y = (w + 2) * (w + 1)
...         y.backward()
>>> len(scope.captures), [b.graph for b in scope.events.backward]
(1, ['g1', 'g1'])

While active it

* wraps the autograd engine entry points (:mod:`graphscope.watcher.engine`), so every top-level
  ``Tensor.backward``, ``autograd.backward`` and ``autograd.grad`` (and what calls them:
  optimizer closures, checkpoint) is captured *before* backward frees the graph;
* composes a :class:`graphscope.recorder.Recorder` for the forward side (source lines and module
  paths of ops, in-place writes, optimizer steps, non-leaf ``.grad`` reads);
* reads each leaf's ``.grad`` before and after every backward call (accumulation, resets:
  :mod:`graphscope.watcher.leaves`), and, on the first capture of each distinct graph, hooks its
  nodes to find where a NaN/Inf first appears in a gradient (:mod:`graphscope.watcher.nonfinite`).

Repeated graphs (a training loop) are recognised by a cheap structural fingerprint walk and not
traced again (:mod:`graphscope.watcher.store`). Everything installed is removed on exit, even
when the body raised, and the scope holds no tensor afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch

from graphscope.errors import TraceError, UsageError
from graphscope.tracer import check_params
from graphscope.watcher.scope import Scope
from graphscope.watcher.session import Session

__all__ = ["watch", "Scope"]


@contextmanager
def watch(
    *,
    names: Mapping[str, torch.Tensor] | None = None,
    params: Any = None,
    max_graphs: int | None = None,
    recorder: bool = True,
    nonfinite: bool = True,
    sample: int | None = 10,
    script: str | None = None,
    debug: bool = False,
) -> Iterator[Scope]:
    """Record autograd activity inside the ``with`` block; yields a :class:`Scope`.

    ``names``/``params`` name tensors as in :func:`graphscope.trace`; ``max_graphs`` caps the
    number of distinct graphs kept; ``recorder=False`` skips the forward recorder (no source
    lines, module paths or in-place culprits, lower overhead); ``nonfinite=False`` skips the
    NaN/Inf hooks. Once a graph repeats (a training loop), the per-op recorder runs on every
    ``sample``-th step only (``sample=None``: every step); backward calls, gradients and
    optimizer steps are recorded at every step regardless. ``debug=True`` opens pdb in the
    user's frame at the first in-place write that makes a tensor saved for backward stale,
    after printing its finding (:mod:`graphscope.watcher.stops`; ``q`` there raises
    :class:`~graphscope.watcher.stops.Quit`).
    """
    params = _check_options(names, params, max_graphs, sample)
    scope = Scope(script=script)
    session = Session(
        scope,
        names=names,
        params=params,
        max_graphs=max_graphs,
        recorder=recorder,
        nonfinite=nonfinite,
        sample=sample,
        debug=debug,
    )
    _safely(session, "installing its hooks", session.install)
    try:
        yield scope
    finally:
        _safely(session, "removing its hooks", session.uninstall)


def _safely(session: Session, what: str, step: Any) -> None:
    """``step()``; an error of ours there is a note of the session's, never the user's error
    (the program then runs unwatched, or goes on as it would have)."""
    try:
        step()
    except Exception as err:
        try:
            session.on_internal(what, err)
        except Exception:  # noqa: S110 (nothing of ours may reach the user's code)
            pass


def _check_options(names: Any, params: Any, max_graphs: Any, sample: Any) -> Any:
    """Bad arguments are a clear :class:`~graphscope.errors.UsageError` before anything is
    installed; returns ``params`` as :func:`graphscope.trace` takes it (an iterator of pairs
    read into a list once)."""
    if names is not None and not isinstance(names, Mapping):
        raise UsageError(
            f"names must be a dict such as {{'loss': loss}} (got {type(names).__name__})"
        )
    for key, value in (names or {}).items():
        if not isinstance(value, torch.Tensor):
            raise UsageError(f"names[{key!r}] must be a tensor (got {type(value).__name__})")
    if params is not None:
        try:
            params = check_params(params)
        except TraceError as err:
            raise UsageError(str(err)) from None
    for name, value in (("max_graphs", max_graphs), ("sample", sample)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise UsageError(
                f"{name} must be None or a positive int (got {value!r}, a {type(value).__name__})"
            )
        if value < 1:
            raise UsageError(f"{name} must be None or at least 1 (got {value})")
    return params
