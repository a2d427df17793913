# expect: saved-tensor-modified@8 error name=h
import torch

w = torch.randn(3, 3, requires_grad=True)
x = torch.randn(2, 3)
h = torch.sigmoid(x @ w)  # sigmoid saves its output h for backward
loss = h.sum()
h.mul_(2)  # changes h in place after it was saved
loss.backward()
