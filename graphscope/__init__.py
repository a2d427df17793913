"""graphscope: see a PyTorch program's autograd graph and what goes wrong in it.

>>> import torch, graphscope
>>> w = torch.tensor([1.0], requires_grad=True)
>>> y = (w + 2) * (w + 1)
>>> [d["label"] for _, d in graphscope.trace(y).nodes(data=True)]
['y', 'MulBackward0', 'AddBackward0', 'w', 'AddBackward0']

The public API: :func:`trace` (tensors -> :class:`AutogradGraph`), :func:`render`
(a graph or tensors -> a picture), :func:`watch` (record a training loop's autograd activity:
captures per backward call, findings).
"""

import graphscope.collapse  # noqa: F401  (adds AutogradGraph.collapse)
from graphscope._version import __version__
from graphscope.errors import GraphscopeError
from graphscope.model import AutogradGraph, Finding, Options
from graphscope.render import render
from graphscope.trace import trace
from graphscope.watch import watch

__all__ = [
    "AutogradGraph",
    "Finding",
    "GraphscopeError",
    "Options",
    "__version__",
    "render",
    "trace",
    "watch",
]
