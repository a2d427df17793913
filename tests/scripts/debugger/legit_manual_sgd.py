# Hand-written SGD in the old style: update through .data after backward, then zero the grads.
import torch
import torch.nn as nn
from _dump import dump

# (_dump: the test suite's byte-for-byte comparison of gradients; idle by default)
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(5, 10), nn.ReLU(), nn.Linear(10, 1))
x, y = torch.randn(25, 5), torch.randn(25, 1)
lr = 0.05

for _ in range(5):
    loss = nn.functional.mse_loss(model(x), y)
    model.zero_grad()
    loss.backward()
    for p in model.parameters():
        p.data.add_(p.grad.data, alpha=-lr)
dump(**{n: p for n, p in model.named_parameters()})
