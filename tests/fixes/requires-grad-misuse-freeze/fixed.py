import torch
import torch.nn as nn

torch.manual_seed(0)
backbone = nn.Linear(8, 8)
head = nn.Linear(8, 2)
opt = torch.optim.SGD(head.parameters(), lr=0.1)
x = torch.randn(16, 8)
y = torch.randint(0, 2, (16,))
with torch.no_grad():
    feats = backbone(x)
feats.requires_grad = False  # train the head only
loss = nn.functional.cross_entropy(head(feats), y)
opt.zero_grad()
loss.backward()
opt.step()
print(f"{loss.item():.4f}")
