# The three lines of a training step in the wrong order: zero_grad() between backward() and
# step(), so every step uses no gradient at all and the model never learns.
import torch
import torch.nn as nn
from _dump import dump

# (_dump: the test suite's byte-for-byte comparison of gradients; idle by default)
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 1))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
x, y = torch.randn(30, 3), torch.randn(30, 1)

for step in range(5):
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    optimizer.zero_grad()
    optimizer.step()
    print(step, loss.item())
dump(**{n: p for n, p in model.named_parameters()})
