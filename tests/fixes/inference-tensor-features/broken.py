import torch
import torch.nn as nn

torch.manual_seed(0)
backbone = nn.Sequential(nn.Linear(8, 16), nn.ReLU())
head = nn.Linear(16, 2)
opt = torch.optim.SGD(head.parameters(), lr=0.1)
x = torch.randn(32, 8)
y = torch.randint(0, 2, (32,))
with torch.inference_mode():
    feats = backbone(x)
for _ in range(3):
    loss = nn.functional.cross_entropy(head(feats), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
print(f"{loss.item():.4f}")
