import torch

torch.manual_seed(0)
w = torch.randn(5, 1, requires_grad=True)
x = torch.randn(5, 1)
per_sample = (w * x).pow(2)
weights = torch.tensor([1.0, 1.0, 2.0, 2.0, 0.5])
per_sample.backward(gradient=weights)
print(w.grad.squeeze())
