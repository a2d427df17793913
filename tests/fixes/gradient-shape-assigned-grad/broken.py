import torch

torch.manual_seed(0)
w = torch.randn(4, 3, requires_grad=True)
opt = torch.optim.SGD([w], lr=0.1)
x = torch.randn(8, 4)
for _ in range(5):
    loss = (x @ w).pow(2).mean()
    (g,) = torch.autograd.grad(loss, w)
    clipped = g.flatten().clamp(-0.1, 0.1)
    w.grad = clipped
    opt.step()
print(f"{loss.item():.4f}")
