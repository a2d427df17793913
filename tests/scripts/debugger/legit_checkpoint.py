# Activation checkpointing with the reentrant implementation: the middle block's parameters get
# their gradients from a backward run inside the outer one.
import torch
import torch.nn as nn
from _dump import dump, grads
from torch.utils.checkpoint import checkpoint

# (_dump: the test suite's byte-for-byte comparison of gradients; idle by default)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(6, 16)
        self.block = nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU())
        self.out = nn.Linear(16, 1)

    def forward(self, x):
        h = torch.relu(self.inp(x))
        h = checkpoint(self.block, h, use_reentrant=True)
        return self.out(h)


torch.manual_seed(0)
net = Net()
opt = torch.optim.SGD(net.parameters(), lr=0.1)
x, y = torch.randn(8, 6), torch.randn(8, 1)
for _ in range(3):
    opt.zero_grad()
    loss = nn.functional.mse_loss(net(x), y)
    loss.backward()
    opt.step()
dump(**grads(net, "net"))
