# expect: eval-mode-training@18 warning name=model.eval()
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(10, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 2))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
x, y = torch.randn(64, 10), torch.randint(0, 2, (64,))
val_x, val_y = torch.randn(32, 10), torch.randint(0, 2, (32,))

for _ in range(3):
    for i in range(0, 64, 16):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x[i : i + 16]), y[i : i + 16])
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        model.eval()
        val_loss = nn.functional.cross_entropy(model(val_x), val_y)
