import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 8)
        self.head = nn.Linear(8, 1)
        self.aux = nn.Linear(8, 1)

    def forward(self, x):
        h = torch.relu(self.body(x))
        return self.head(h)


torch.manual_seed(0)
model = Net()
model.aux.requires_grad_(False)  # kept for later, frozen now
opt = torch.optim.SGD(model.parameters(), lr=0.05)
for _ in range(3):
    opt.zero_grad()
    loss = model(torch.randn(16, 4)).pow(2).mean()
    loss.backward()
    opt.step()
print(f"{loss.item():.4f}")
