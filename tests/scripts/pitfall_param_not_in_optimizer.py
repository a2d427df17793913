# expect: param-not-in-optimizer@6 warning name=fc.weight
import torch

model = torch.nn.Sequential()
model.add_module("body", torch.nn.Linear(3, 3))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
model.add_module("fc", torch.nn.Linear(3, 1))  # added after the optimizer was built
for _ in range(2):
    opt.zero_grad()
    model(torch.ones(2, 3)).sum().backward()
    opt.step()
