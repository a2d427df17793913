import random

import torch
import torch.nn as nn
from torch.utils.checkpoint import checkpoint

random.seed(3)
torch.manual_seed(0)
block = nn.Sequential(nn.Linear(8, 8), nn.Tanh())
extra = nn.Linear(8, 8)
opt = torch.optim.SGD([*block.parameters(), *extra.parameters()], lr=0.1)


def run(x):
    h = block(x)
    if random.random() < 0.5:  # stochastic depth
        h = torch.tanh(extra(h))
    return h


x = torch.randn(4, 8, requires_grad=True)
for step in range(4):
    opt.zero_grad()
    out = checkpoint(run, x, use_reentrant=False)
    out.sum().backward()
    opt.step()
    print(f"step {step}: {out.sum().item():.4f}")
