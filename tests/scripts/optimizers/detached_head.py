import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4))
        self.heads = nn.ModuleDict({"cls": nn.Linear(4, 2), "aux": nn.Linear(4, 1)})

    def forward(self, x):
        h = self.body(x)
        return self.heads["cls"](h), self.heads["aux"](h.detach())


torch.manual_seed(0)
model = Net()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
out, aux = model(torch.randn(8, 4))
out.pow(2).mean().backward()
opt.step()
