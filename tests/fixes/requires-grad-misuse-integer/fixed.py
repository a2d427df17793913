import torch

torch.manual_seed(0)
x = torch.randn(16, 3)
target = x @ torch.tensor([0.5, -1.0, 2.0])
coef = torch.tensor([1, 1, 1], requires_grad=True, dtype=torch.float32)
opt = torch.optim.SGD([coef], lr=0.1)
for _ in range(100):
    loss = (x @ coef - target).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
print(coef.detach().round(decimals=2))
