import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(
    nn.Linear(10, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 2)
)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
train_x, train_y = torch.randn(64, 10), torch.randint(0, 2, (64,))
val_x, val_y = torch.randn(32, 10), torch.randint(0, 2, (32,))

for epoch in range(3):
    for i in range(0, 64, 16):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(train_x[i : i + 16]), train_y[i : i + 16])
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        val_loss = nn.functional.cross_entropy(model(val_x), val_y)
    print(f"epoch {epoch}: train loss {loss.item():.4f}, val loss {val_loss.item():.4f}")
