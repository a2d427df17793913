# Truncated backpropagation through time: the hidden state is carried from step to step and each
# step's loss is backpropagated through the steps of its window (retain_graph=True inside the
# window, gradients summed), one optimizer step per window, then the state is detached: the
# graph grows within a window and starts over with the next.
import torch
import torch.nn as nn
from _dump import dump, grads

# (_dump: the test suite's byte-for-byte comparison of gradients; idle by default)
torch.manual_seed(0)
cell, head = nn.RNNCell(4, 8), nn.Linear(8, 1)
opt = torch.optim.SGD([*cell.parameters(), *head.parameters()], lr=0.05)
xs, ys = torch.randn(24, 3, 4), torch.randn(24, 3, 1)
h = torch.zeros(3, 8)
window = 4
for t in range(24):
    if t % window == 0:
        h = h.detach()
        opt.zero_grad()
    h = cell(xs[t], h)
    loss = nn.functional.mse_loss(head(h), ys[t])
    last = (t + 1) % window == 0
    loss.backward(retain_graph=not last)
    if last:
        opt.step()
dump(**grads(cell, "cell"))
