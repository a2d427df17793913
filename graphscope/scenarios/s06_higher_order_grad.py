"""Higher-order derivatives with torch.autograd.grad(create_graph=True)
name: higher-order-grad
row: 6
seeds: 000 003 004
kinds:
nodes: x, y, PowBackward0
explanation: torch.autograd.grad returns the gradients as a tuple instead of storing them in .grad.
With create_graph=True the backward pass is itself recorded, so the first derivative of y = x**2
at x = 3, 6, carries a grad_fn (MulBackward0) and can be differentiated again: 2, then 0. The
picture of each call shows the graph that the previous call created.
"""

import torch

x = torch.tensor([3.0], requires_grad=True)
y = torch.pow(x, 2)
grad_1 = torch.autograd.grad(y, x, create_graph=True)
print("grad_1:", grad_1)
grad_2 = torch.autograd.grad(grad_1[0], x, create_graph=True)
print("grad_2:", grad_2)
grad_3 = torch.autograd.grad(grad_2[0], x)
print("grad_3:", grad_3)
print("type:", type(grad_3).__name__)
