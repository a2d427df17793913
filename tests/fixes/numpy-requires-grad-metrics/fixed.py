import numpy as np
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Linear(4, 1)
x = torch.randn(32, 4)
y = torch.randn(32, 1)
pred = model(x)
loss = (pred - y).pow(2).mean()
loss.backward()
mae = np.abs(pred.detach().numpy() - y.numpy()).mean()
print(f"mae {mae:.4f}")
