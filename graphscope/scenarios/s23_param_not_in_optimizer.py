"""A layer added after the optimizer was built
name: param-not-in-optimizer
row:
seeds:
kinds: param-not-in-optimizer@30
nodes: fc.weight, fc.bias, loss
explanation: The optimizer was given model.parameters() before the new output layer fc existed,
so it holds only the old layers' parameters. Backward still computes gradients for fc.weight and
fc.bias (they are in the graph), but no optimizer.step() ever changes them: the printed weight
stays the same after every step. graphscope lists the parameters that get gradients but belong
to no optimizer (line: where the optimizer was built); build the optimizer after the model is
complete, or add them with optimizer.add_param_group.
"""

import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(3, 4)

    def forward(self, x):
        return self.fc(torch.relu(self.body(x)))


torch.manual_seed(0)
net = Net()
optimizer = torch.optim.SGD(net.parameters(), lr=0.5)
net.fc = nn.Linear(4, 1)  # added after the optimizer was built
x, y = torch.randn(8, 3), torch.randn(8, 1)
for _ in range(3):
    optimizer.zero_grad()
    loss = ((net(x) - y) ** 2).mean()
    loss.backward()
    optimizer.step()
    print("fc.bias:", net.fc.bias.data, "has a gradient:", net.fc.bias.grad is not None)
