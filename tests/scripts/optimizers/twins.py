import torch
import torch.nn as nn

torch.manual_seed(0)
student = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
teacher = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
opt = torch.optim.SGD([*student.parameters(), *teacher.parameters()], lr=0.1)
for _ in range(3):
    opt.zero_grad()
    x = torch.randn(8, 4)
    loss = (student(x) - teacher(x)).pow(2).mean()
    loss.backward()
    opt.step()
