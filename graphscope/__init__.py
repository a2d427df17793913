"""graphscope: see a PyTorch program's autograd graph and what goes wrong in it.

>>> import torch, graphscope
>>> w = torch.tensor([1.0], requires_grad=True)
>>> y = (w + 2) * (w + 1)
>>> [d["label"] for _, d in graphscope.trace(y).nodes(data=True)]
['y', 'MulBackward0', 'AddBackward0', 'w', 'AddBackward0']

The public API: :func:`trace` (tensors -> :class:`AutogradGraph`), :func:`render` (a graph or
tensors -> a picture; without a path, a drawing a notebook shows inline), :func:`watch` (record
a training loop's autograd activity: captures per backward call, findings), :func:`collapse` (a
big graph -> a readable overview). In IPython and Jupyter, importing graphscope registers how
graphs and scopes display (:mod:`graphscope.notebook`).

Importing graphscope loads nothing heavy: each name is imported on first use (torch only with
``trace``, ``watch`` and ``render``), so ``graphscope --version`` answers at once.
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import TYPE_CHECKING, Any

from graphscope._version import __version__
from graphscope.errors import GraphscopeError
from graphscope.options import Options

if TYPE_CHECKING:
    from graphscope.draw import render
    from graphscope.model import AutogradGraph, Finding
    from graphscope.overview import collapse
    from graphscope.tracer import trace
    from graphscope.watcher import Scope, watch

__all__ = [
    "AutogradGraph",
    "Finding",
    "GraphscopeError",
    "Options",
    "Scope",
    "__version__",
    "collapse",
    "render",
    "trace",
    "watch",
]

#: public name -> the module that defines it
_LAZY = {
    "AutogradGraph": "graphscope.model",
    "Finding": "graphscope.model",
    "Scope": "graphscope.watcher",
    "collapse": "graphscope.overview",
    "render": "graphscope.draw",
    "trace": "graphscope.tracer",
    "watch": "graphscope.watcher",
}


def _register_display() -> None:
    """In IPython/Jupyter, show graphs and scopes inline (:mod:`graphscope.notebook`)."""
    if "IPython" in sys.modules:
        from graphscope.notebook import register

        register()


_register_display()


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'graphscope' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
