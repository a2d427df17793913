"""Models whose autograd graphs have about 1k, 10k or 50k nodes, for ``benchmarks/run.py``.

Each builder takes a target node count and returns ``(loss, module or None)``; the size is
reached by stacking more layers (or loop steps), with small tensors so that the forward pass
costs little next to the graph work being measured. :func:`count_nodes` counts the backward
nodes (AccumulateGrad included) with a bare iterative ``next_functions`` walk.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

Built = tuple[torch.Tensor, "nn.Module | None"]


def count_nodes(loss: torch.Tensor) -> int:
    """Backward nodes reachable from ``loss`` (iterative, collects nothing but a set)."""
    seen: set[object] = set()
    stack = [loss.grad_fn]
    while stack:
        fn = stack.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        stack.extend(f for f, _ in fn.next_functions)
    return len(seen)


def mlp(nodes: int) -> Built:
    """A deep MLP: Linear(8, 8) + ReLU, repeated (5 nodes per layer)."""
    depth = max(1, nodes // 5)
    layers: list[nn.Module] = []
    for _ in range(depth):
        layers += [nn.Linear(8, 8), nn.ReLU()]
    model = nn.Sequential(*layers)
    return model(torch.randn(2, 8)).pow(2).mean(), model


class _Block(nn.Module):
    """conv-bn-relu-conv-bn, plus the input, then relu (a ResNet basic block)."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(ch)
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + x)


class ResNetLike(nn.Module):
    def __init__(self, blocks: int, ch: int = 4) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, ch, 3, padding=1)
        self.blocks = nn.Sequential(*[_Block(ch) for _ in range(blocks)])
        self.head = nn.Linear(ch, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.stem(x))
        return self.head(h.mean(dim=(2, 3)))


def resnet(nodes: int) -> Built:
    """A conv/bn/relu stack with residual adds, 4 channels at 4x4, batch 2 (13 nodes/block)."""
    model = ResNetLike(max(1, nodes // 13))
    return model(torch.randn(2, 3, 4, 4)).logsumexp(dim=1).mean(), model


def transformer(nodes: int) -> Built:
    """An ``nn.TransformerEncoder`` (d_model 16, 2 heads, ff 32), layers scaled (~54 nodes each)."""
    layer = nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, batch_first=True, dropout=0.0)
    model = nn.TransformerEncoder(layer, num_layers=max(1, nodes // 54), enable_nested_tensor=False)
    x = torch.randn(1, 4, 16, requires_grad=True)
    return model(x).pow(2).mean(), model


def loop(nodes: int) -> Built:
    """An elementwise Python loop ``x = tanh(x * w + b)`` (3 nodes per step), no module."""
    w = torch.randn(8, requires_grad=True)
    b = torch.randn(8, requires_grad=True)
    x = torch.randn(8)
    for _ in range(max(1, nodes // 3)):
        x = torch.tanh(x * w + b)
    return x.sum(), None


MODELS: dict[str, Callable[[int], Built]] = {
    "mlp": mlp,
    "resnet": resnet,
    "transformer": transformer,
    "loop": loop,
}
