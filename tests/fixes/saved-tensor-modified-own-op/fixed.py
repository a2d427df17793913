import torch

w = torch.randn(3, requires_grad=True)
x = torch.randn(3)
h = (w * x).sigmoid()
h = h * 2
h.sum().backward()
print(w.grad)
