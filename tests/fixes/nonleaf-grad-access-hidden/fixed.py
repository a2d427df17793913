import torch

torch.manual_seed(0)
w = torch.randn(3, requires_grad=True)
h = w * 2
h.retain_grad()
loss = h.pow(2).sum()
loss.backward()
print(h.grad)
