# expect: nonleaf-grad-access@8 warning name=h
import torch

w = torch.tensor([1.0, 2.0], requires_grad=True)
h = w * 2
loss = (h * h).sum()
loss.backward()
print("h.grad:", h.grad)  # None: h is not a leaf and did not call retain_grad()
