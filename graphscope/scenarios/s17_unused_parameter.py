"""A parameter the loss never reaches
name: unused-parameter
row:
seeds:
kinds: no-grad-param@32
nodes: aux_head.weight, aux_head.bias, loss
explanation: Net defines aux_head but forward never calls it, so the loss does not depend on its
parameters: after backward, aux_head.weight and aux_head.bias still have no gradient, and an
optimizer would silently leave them as they are. graphscope lists the parameters that require grad
but were not reached by the backward call (line: that backward call); in the picture they stand
apart from the graph, greyed, with no arrow to the loss and no gradient.
"""

import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Linear(4, 8)
        self.head = nn.Linear(8, 1)
        self.aux_head = nn.Linear(8, 1)

    def forward(self, x):
        return self.head(torch.relu(self.backbone(x)))


torch.manual_seed(0)
net = Net()
loss = net(torch.randn(16, 4)).pow(2).mean()
loss.backward()
for name, p in net.named_parameters():
    print(name, "has no gradient" if p.grad is None else "has a gradient")
