import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 8)
        self.gate = nn.Sigmoid()
        self.act = nn.ReLU(inplace=True)
        self.out = nn.Linear(8, 1)

    def forward(self, x):
        h = self.gate(self.fc(x))
        h = self.act(h)
        return self.out(h)


torch.manual_seed(0)
model = Net()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
loss = model(torch.randn(5, 4)).pow(2).mean()
loss.backward()
opt.step()
print(loss.item())
