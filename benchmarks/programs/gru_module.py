"""A GRU written by hand: one module whose forward loops over the time steps.

python gru_module.py [STEPS]   (default 400; about 19 autograd nodes per step)
"""

import sys

import torch
from torch import nn


class HandGRU(nn.Module):
    """GRU cell equations unrolled over the sequence inside ``forward``."""

    def __init__(self, n_in: int, n_hidden: int) -> None:
        super().__init__()
        self.n_hidden = n_hidden
        self.reset = nn.Linear(n_in + n_hidden, n_hidden)
        self.update = nn.Linear(n_in + n_hidden, n_hidden)
        self.candidate = nn.Linear(n_in + n_hidden, n_hidden)

    def forward(self, xs: torch.Tensor) -> torch.Tensor:
        h = torch.zeros(xs.shape[1], self.n_hidden)
        for x in xs:
            hx = torch.cat([x, h], dim=1)
            r = torch.sigmoid(self.reset(hx))
            z = torch.sigmoid(self.update(hx))
            n = torch.tanh(self.candidate(torch.cat([x, r * h], dim=1)))
            h = (1 - z) * n + z * h
        return h


steps = int(sys.argv[1]) if len(sys.argv) > 1 else 400
torch.manual_seed(0)
model = HandGRU(4, 16)
readout = nn.Linear(16, 1)
opt = torch.optim.Adam([*model.parameters(), *readout.parameters()], lr=1e-3)
xs = torch.randn(steps, 2, 4)
loss = readout(model(xs)).pow(2).mean()
opt.zero_grad()
loss.backward()
opt.step()
print(f"loss {loss.item():.4f}")
