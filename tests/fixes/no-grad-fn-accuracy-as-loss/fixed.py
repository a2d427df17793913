import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x, y = torch.randn(64, 4), torch.randint(0, 3, (64,))
for epoch in range(5):
    opt.zero_grad()
    logits = model(x)
    pred = logits.argmax(dim=1)
    loss = nn.functional.cross_entropy(logits, y)
    loss.backward()
    opt.step()
    print(epoch, f"{loss.item():.3f}")
