# expect: checkpoint-recompute-mismatch@20 error name=run
import random

import torch
from torch.utils.checkpoint import checkpoint

random.seed(1)
lin = torch.nn.Linear(4, 4)


def run(x):
    h = lin(x)
    if random.random() < 0.5:
        h = torch.tanh(lin(h))
    return h


x = torch.randn(2, 4, requires_grad=True)
for _ in range(4):
    out = checkpoint(run, x, use_reentrant=False)
    out.sum().backward()
