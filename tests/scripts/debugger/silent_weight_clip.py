# A max-norm constraint applied to the weights between the forward pass and backward() instead
# of after optimizer.step(): the layer saved its weight for backward, and the .data write
# changes it under autograd's nose. The first layer's gradient comes out silently wrong.
import torch
import torch.nn as nn
from _dump import dump, grads

# (_dump: the test suite's byte-for-byte comparison of gradients; idle by default)
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
x, y = torch.randn(16, 4), torch.randn(16, 1)

for _ in range(3):
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    for p in model.parameters():
        p.data.clamp_(-0.2, 0.2)
    loss.backward()
    dump(**grads(model, "model"))
    optimizer.step()
