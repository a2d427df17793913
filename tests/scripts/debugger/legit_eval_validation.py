# A validation pass at the end of each epoch in eval mode, and model.train() at the start of
# each epoch: every training step runs with dropout on and BatchNorm updating its statistics.
import torch
import torch.nn as nn
from _dump import dump, grads

# (_dump: the test suite's byte-for-byte comparison of gradients; idle by default)
torch.manual_seed(0)
model = nn.Sequential(
    nn.Linear(10, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 2)
)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
train_x, train_y = torch.randn(64, 10), torch.randint(0, 2, (64,))
val_x, val_y = torch.randn(32, 10), torch.randint(0, 2, (32,))

for epoch in range(3):
    model.train()
    for i in range(0, 64, 16):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(train_x[i : i + 16]), train_y[i : i + 16])
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        val_loss = nn.functional.cross_entropy(model(val_x), val_y)
    print(f"epoch {epoch}: train loss {loss.item():.4f}, val loss {val_loss.item():.4f}")
dump(**grads(model, "model"))
