"""One custom Function reading every weight of a 4-block model (as a torch.compile region
does): the explorer draws its parameters as one node per block (bundles)."""

import torch
from torch import nn


class Fused(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, *ws):
        ctx.save_for_backward(x, *ws)
        return x.sum() * sum(w.sum() for w in ws)

    @staticmethod
    def backward(ctx, g):
        x, *ws = ctx.saved_tensors
        total = sum(w.sum() for w in ws)
        return (g * total * torch.ones_like(x), *(g * x.sum() * torch.ones_like(w) for w in ws))


torch.manual_seed(0)
model = nn.Sequential(
    *(nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4), nn.Linear(4, 4)) for _ in range(4))
)
loss = Fused.apply(torch.randn(3, 4), *model.parameters())
loss.backward()
