# A small classifier; ReLU(inplace=True) "saves memory", but it overwrites the output of the
# Sigmoid before it, which the Sigmoid needs for its backward.
import torch
import torch.nn as nn
from _dump import dump

# (_dump: the test suite's byte-for-byte comparison of gradients; idle by default)
torch.manual_seed(0)
model = nn.Sequential(
    nn.Linear(8, 16),
    nn.Sigmoid(),
    nn.ReLU(inplace=True),
    nn.Linear(16, 3),
)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
x, labels = torch.randn(10, 8), torch.randint(0, 3, (10,))

for _ in range(2):
    optimizer.zero_grad()
    out = model(x)
    loss = nn.functional.cross_entropy(out, labels)
    dump(out=out, loss=loss)
    loss.backward()
    optimizer.step()
