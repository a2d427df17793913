import torch
import torch.nn as nn

torch.manual_seed(0)
encoder = nn.Linear(8, 4)
x = torch.randn(32, 8)
with torch.no_grad():
    running_mean = encoder(x).mean(0)
for _ in range(3):
    batch = torch.randn(32, 8)
    feats = encoder(batch)
    running_mean.mul_(0.9).add_(0.1 * feats.mean(0).detach())
print(running_mean)
