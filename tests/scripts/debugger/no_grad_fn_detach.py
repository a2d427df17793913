# The prediction is detached "to save memory" before the loss is computed: the loss then has no
# graph, and backward() fails.
import torch
import torch.nn as nn
from _dump import dump

# (_dump: the test suite's byte-for-byte comparison of gradients; idle by default)
torch.manual_seed(0)
net = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 1))
opt = torch.optim.SGD(net.parameters(), lr=0.05)
x, y = torch.randn(40, 5), torch.randn(40, 1)

for _ in range(3):
    opt.zero_grad()
    pred = net(x).detach()
    loss = nn.functional.mse_loss(pred, y)
    dump(pred=pred, loss=loss)
    loss.backward()
    opt.step()
