# Gradients from torch.autograd.grad, assigned to .grad by hand, then the optimizer's step: no
# backward() call at all, and every step has its gradients (not step-without-backward).
import torch
import torch.nn as nn
from _dump import dump

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(5, 10), nn.Tanh(), nn.Linear(10, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.05)
x, y = torch.randn(25, 5), torch.randn(25, 1)
for _ in range(5):
    opt.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    grads = torch.autograd.grad(loss, list(model.parameters()))
    for p, g in zip(model.parameters(), grads, strict=True):
        p.grad = g
    opt.step()
dump(**{n: p for n, p in model.named_parameters()})
