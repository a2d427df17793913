# The epoch's loss summed as a tensor: every iteration's graph stays attached to total_loss, so
# memory grows with every batch (the classic "out of memory after a few hundred batches").
import torch
import torch.nn as nn
from _dump import dump, grads

# (_dump: the test suite's byte-for-byte comparison of gradients; idle by default)
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
data = [(torch.randn(8, 10), torch.randn(8, 1)) for _ in range(12)]

for epoch in range(2):
    total_loss = 0.0
    for x, y in data:
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        total_loss += loss
    print(f"epoch {epoch}: mean loss {total_loss / len(data)}")
dump(**grads(model, "model"))
