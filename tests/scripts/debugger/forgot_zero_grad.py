# A deeper MLP (20 layers, 40 parameters) trained without optimizer.zero_grad(): every step adds
# the new gradients to all the old ones.
import torch
import torch.nn as nn
from _dump import dump, grads

# (_dump: the test suite's byte-for-byte comparison of gradients; idle by default)
torch.manual_seed(0)
layers = []
for _ in range(19):
    layers += [nn.Linear(8, 8), nn.ReLU()]
model = nn.Sequential(*layers, nn.Linear(8, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
x, y = torch.randn(16, 8), torch.randn(16, 1)

for _ in range(4):
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
dump(**grads(model, "model"))
