# Fine-tuning with frozen BatchNorm, as detection codebases do: each epoch calls model.train()
# and then puts every BatchNorm layer back in eval mode (its running statistics stay those of
# pre-training) before any step; a validation pass in eval mode ends the epoch.
import torch
import torch.nn as nn
from _dump import dump, grads

# (_dump: the test suite's byte-for-byte comparison of gradients; idle by default)
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(10, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 2))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
x, y = torch.randn(64, 10), torch.randint(0, 2, (64,))


def freeze_bn(m):
    if isinstance(m, nn.BatchNorm1d):
        m.eval()


for epoch in range(3):
    model.train()
    model.apply(freeze_bn)
    for i in range(0, 64, 16):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x[i : i + 16]), y[i : i + 16])
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        val = nn.functional.cross_entropy(model(x), y)
    print(f"epoch {epoch}: loss {loss.item():.4f} val {val.item():.4f}")
dump(**grads(model, "model"))
