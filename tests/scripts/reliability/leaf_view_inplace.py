"""torch refuses v.add_() on a view of a non-grad base after grad data was copied into it."""

import torch

a = torch.zeros(3, 3)
v = a[:, :2]
w = torch.ones(3, requires_grad=True)
v[:, 1].copy_(w)
for _attempt in range(2):
    try:
        v.add_(1.0)
        print("no error")
    except RuntimeError as e:
        print("RuntimeError:", e)
print(v.requires_grad, a.requires_grad)
