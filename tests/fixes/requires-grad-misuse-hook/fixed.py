import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
x = torch.randn(16, 4)
x.requires_grad_()
saliency = []
x.register_hook(lambda g: saliency.append(g.abs().mean(0)))
loss = model(x).sum()
loss.backward()
print(saliency[0])
