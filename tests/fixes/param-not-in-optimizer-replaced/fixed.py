import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 8)
        self.fc = nn.Linear(8, 2)

    def forward(self, x):
        return self.fc(self.body(x).relu())


class Trainer:
    def __init__(self):
        self.net = Net()
        self.opt = torch.optim.SGD(self.net.parameters(), lr=0.1)
        self.net.fc = nn.Linear(8, 2)  # a new head, after the optimizer was built

    def step(self, x):
        self.opt.zero_grad()
        loss = self.net(x).pow(2).mean()
        loss.backward()
        self.opt.step()
        return loss.item()


torch.manual_seed(0)
t = Trainer()
t.opt.add_param_group({"params": t.net.fc.parameters()})
for _ in range(3):
    print(t.step(torch.randn(8, 4)))
