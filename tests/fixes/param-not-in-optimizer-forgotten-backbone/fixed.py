import torch
import torch.nn as nn

torch.manual_seed(0)
backbone = nn.Sequential(nn.Linear(4, 8), nn.ReLU())
head = nn.Linear(8, 2)
opt = torch.optim.SGD(head.parameters(), lr=0.1)  # the trainable backbone forgotten
opt.add_param_group({"params": backbone.parameters()})
for _ in range(3):
    opt.zero_grad()
    head(backbone(torch.randn(8, 4))).pow(2).mean().backward()
    opt.step()
