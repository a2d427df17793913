import torch
import torch.nn as nn

torch.manual_seed(0)
layer = nn.Linear(4, 3)
x = torch.randn(8, 4)
hidden = layer(x).tanh()
hidden.retain_grad()
loss = hidden.pow(2).mean()
loss.backward()
print(hidden.grad.abs().mean())
