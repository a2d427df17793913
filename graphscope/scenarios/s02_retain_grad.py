"""Keeping a non-leaf gradient with retain_grad()
name: retain-grad
row: 2
seeds: 003
kinds: nonleaf-grad-access@22
nodes: w, x, a, b, y
explanation: Calling a.retain_grad() before backward asks autograd to keep the gradient that
flows through a: a.grad is now 2 (dy/da = w + 1). b and y did not ask, so their .grad is still
None; graphscope still points at that read. In the picture a is drawn as a retained tensor with
its gradient, next to the leaves w and x.
"""

import torch

w = torch.tensor([1.0], requires_grad=True)
x = torch.tensor([2.0], requires_grad=True)
a = torch.add(w, x)
a.retain_grad()
b = torch.add(w, 1)
y = torch.mul(a, b)
y.backward()
print("gradient:", w.grad, x.grad, a.grad, b.grad, y.grad)
