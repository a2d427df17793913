import torch
import torch.nn as nn

torch.manual_seed(0)
trunk = nn.Sequential(nn.Linear(6, 16), nn.Tanh())
cls_head = nn.Linear(16, 3)
reg_head = nn.Linear(16, 1)
params = [*trunk.parameters(), *cls_head.parameters(), *reg_head.parameters()]
opt = torch.optim.Adam(params, lr=1e-3)
x, y_cls, y_reg = torch.randn(10, 6), torch.randint(0, 3, (10,)), torch.randn(10, 1)

for step in range(3):
    opt.zero_grad()
    feats = trunk(x)
    cls_loss = nn.functional.cross_entropy(cls_head(feats), y_cls)
    reg_loss = nn.functional.mse_loss(reg_head(feats), y_reg)
    cls_loss.backward()
    reg_loss.backward()
    opt.step()
    print(f"step {step}: {cls_loss.item():.4f} {reg_loss.item():.4f}")
