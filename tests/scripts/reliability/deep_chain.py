"""A 100,000-deep chain: backward, then freed (torch frees it without recursion)."""

import torch

w = torch.tensor([1.0], requires_grad=True)
h = w
for _ in range(100_000):
    h = h * 1.0
h.backward()
print("grad", w.grad.item())
del h
print("freed")
