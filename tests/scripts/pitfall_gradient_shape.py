# expect: gradient-shape@6 error name=y
import torch

w = torch.randn(3, 1, requires_grad=True)
y = w * 2
y.backward(gradient=torch.ones(3))
