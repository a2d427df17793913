import torch

w = torch.tensor([1.0], requires_grad=True)
(w * 5).sum().backward()
print("pkgdemo main:", w.grad)
