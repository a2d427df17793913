import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 1))
opt = torch.optim.SGD(model.parameters(), lr=1e-3)
scaler = torch.amp.GradScaler("cpu", init_scale=2.0**8)
x = torch.randn(64, 8) * 1e3  # raw features and targets, in the thousands
y = torch.randn(64, 1) * 1e3
x, y = (x - x.mean(0)) / x.std(0), (y - y.mean()) / y.std()
for _ in range(30):
    opt.zero_grad()
    with torch.autocast("cpu", dtype=torch.float16):
        loss = nn.functional.mse_loss(model(x), y)
    scaler.scale(loss).backward()
    scaler.step(opt)
    scaler.update()
print(f"scale {scaler.get_scale():g}")
