import torch
import torch.nn as nn

torch.manual_seed(0)
backbone = nn.Linear(8, 8)
clf = nn.Linear(8, 2)
opt = torch.optim.SGD(clf.parameters(), lr=0.1)
x = torch.randn(32, 8)
labels = torch.randint(0, 2, (32,))

with torch.no_grad():
    feats = torch.relu(backbone(x))
for epoch in range(5):
    opt.zero_grad()
    loss = nn.functional.cross_entropy(clf(feats), labels)
    loss.backward()
    opt.step()
    print(f"epoch {epoch}: loss {loss.item():.4f}")
