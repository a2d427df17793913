import torch

torch.manual_seed(0)
w = torch.randn(3, 1, requires_grad=True) * 0.01
b = torch.zeros(1, requires_grad=True)
opt = torch.optim.SGD([w, b], lr=0.1)
x, y = torch.randn(32, 3), torch.randn(32, 1)
for _ in range(20):
    opt.zero_grad()
    loss = (x @ w + b - y).pow(2).mean()
    loss.backward()
    opt.step()
print(f"{loss.item():.4f}")
