import torch
import torch.nn as nn

torch.manual_seed(0)
layer = nn.Linear(4, 6)
x = torch.randn(8, 4)
h = layer(x)
bias_feature = h[:, 0]
bias_feature.mul_(0.0)  # switch the first feature off
loss = h.pow(2).mean()
loss.backward()
print(f"{layer.weight.grad.norm():.4f}")
