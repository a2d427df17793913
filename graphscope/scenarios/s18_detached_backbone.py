"""detach() cuts the backbone off the graph
name: detached-backbone
row:
seeds:
kinds: no-grad-param@34
nodes: backbone.weight, backbone.bias, AddmmBackward0, loss
explanation: features.detach() returns a tensor that shares the values but has no history, so
the graph of the loss stops there: the head is trained, the backbone is not. backbone.weight and
backbone.bias get no gradient from the backward call, which graphscope reports (line: that
backward call); the picture shows the head's graph ending at head's AddmmBackward0 (the detached
features enter it as a constant, like data) and backbone.weight and backbone.bias greyed, apart.
Detaching on purpose (a frozen feature extractor) is fine; doing it by accident to, say, log a
value, silently freezes everything before it.
"""

import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Linear(4, 8)
        self.head = nn.Linear(8, 1)

    def forward(self, x):
        features = torch.relu(self.backbone(x))
        return self.head(features.detach())


torch.manual_seed(0)
net = Net()
loss = net(torch.randn(16, 4)).pow(2).mean()
loss.backward()
for name, p in net.named_parameters():
    print(name, "has no gradient" if p.grad is None else "has a gradient")
