import torch
from torch import nn

torch.manual_seed(0)
model = nn.Linear(4, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.05)
for _ in range(4):
    x = torch.randn(16, 4)
    loss = (model(x) - 1).pow(2).mean()
    loss.backward()
    opt.step()
print(f"{loss.item():.4f}")
