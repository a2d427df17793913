import torch

torch.manual_seed(0)
x, y = torch.randn(32, 3), torch.randn(32, 1)
w = torch.zeros(3, 1, requires_grad=True)
lr = 0.1
for _ in range(5):
    loss = (x @ w - y).pow(2).mean()
    loss.backward()
    w = (w - lr * w.grad).detach().requires_grad_()
print(f"{loss.item():.4f}")
