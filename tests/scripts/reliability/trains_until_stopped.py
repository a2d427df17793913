"""Trains until a signal ends it; says "ready" once three backward calls are done."""

import torch

w = torch.ones(3, requires_grad=True)
opt = torch.optim.SGD([w], lr=1e-6)
step = 0
while True:
    opt.zero_grad()
    (w * 2).sum().backward()
    opt.step()
    step += 1
    if step == 3:
        print("ready", flush=True)
