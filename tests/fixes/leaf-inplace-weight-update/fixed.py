import torch

torch.manual_seed(0)
w = torch.randn(3, requires_grad=True)
x = torch.randn(3)
loss = (w * x).sum()
loss.backward()
with torch.no_grad():
    w -= 0.1 * w.grad
print(w)
