import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
x = torch.randn(16, 4)
x.retain_grad()  # which input features matter?
loss = model(x).pow(2).mean()
loss.backward()
print(x.grad.abs().mean(0))
