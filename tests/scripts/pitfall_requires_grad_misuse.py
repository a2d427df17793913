# expect: requires-grad-misuse@5 error name=h
import torch

w = torch.randn(3, requires_grad=True)
h = w * 2
h.requires_grad_(False)
