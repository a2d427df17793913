# expect: numpy-requires-grad@6 error name=pred
import torch

w = torch.randn(3, requires_grad=True)
pred = w * 2
values = pred.numpy()
