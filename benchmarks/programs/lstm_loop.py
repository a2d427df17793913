"""Two nn.LSTMCell and an nn.Linear held by the script, called in a Python loop over time steps.

python lstm_loop.py [STEPS]   (default 300; about 32 autograd nodes per step)
"""

import sys

import torch
from torch import nn

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 300
torch.manual_seed(0)
cell1 = nn.LSTMCell(4, 16)
cell2 = nn.LSTMCell(16, 16)
head = nn.Linear(16, 1)
opt = torch.optim.SGD([*cell1.parameters(), *cell2.parameters(), *head.parameters()], lr=0.01)

x = torch.randn(steps, 2, 4)
target = torch.randn(steps, 2, 1)
h1 = c1 = h2 = c2 = torch.zeros(2, 16)
outputs = []
for t in range(steps):
    h1, c1 = cell1(x[t], (h1, c1))
    h2, c2 = cell2(h1, (h2, c2))
    outputs.append(head(h2))
loss = nn.functional.mse_loss(torch.stack(outputs), target)
opt.zero_grad()
loss.backward()
opt.step()
print(f"loss {loss.item():.4f}")
