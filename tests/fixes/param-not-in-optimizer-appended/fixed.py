import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 16), nn.ReLU())
opt = torch.optim.SGD(model.parameters(), lr=0.1)
model.append(nn.Linear(16, 2))
opt.add_param_group({"params": model[2].parameters()})
for _ in range(3):
    opt.zero_grad()
    loss = model(torch.randn(8, 4)).pow(2).mean()
    loss.backward()
    opt.step()
print(loss.item())
