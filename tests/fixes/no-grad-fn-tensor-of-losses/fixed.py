import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Linear(4, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
batches = [(torch.randn(8, 4), torch.randn(8, 1)) for _ in range(3)]

opt.zero_grad()
losses = []
for x, y in batches:
    losses.append(nn.functional.mse_loss(model(x), y))
loss = torch.stack(losses).mean()
loss.backward()
opt.step()
print(f"loss {loss.item():.4f}")
