import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList(
            [nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.2)) for _ in range(2)]
        )
        self.heads = nn.ModuleDict({"cls": nn.Linear(4, 2)})

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return self.heads["cls"](x)


torch.manual_seed(0)
model = Net()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
x = torch.randn(8, 4)
for _epoch in range(3):
    optimizer.zero_grad()
    model(x).pow(2).mean().backward()
    optimizer.step()
    model.blocks[0].eval()  # to inspect the first block's output without dropout
    with torch.no_grad():
        print(model.blocks[0](x).mean().item())
