"""Partial derivatives of several outputs with torch.autograd.grad
name: partial-derivatives
row: 7
seeds: 003
kinds:
nodes: x1, x2, y1, MulBackward0
explanation: With x1 = 1 and x2 = 2, y1 = x1 * x2 has partial derivatives (x2, x1) = (2, 1). Passing
both outputs [y1, y2] sums them: y1 + y2 = x1 * x2 + x1 + x2 gives (3, 2). The first call keeps the
graph (retain_graph=True) because the second call walks through y1 again.
"""

import torch

x1 = torch.tensor(1.0, requires_grad=True)
x2 = torch.tensor(2.0, requires_grad=True)
y1 = x1 * x2
y2 = x1 + x2
(dy1_dx1, dy1_dx2) = torch.autograd.grad(outputs=y1, inputs=[x1, x2], retain_graph=True)
print("d y1 / d(x1, x2):", dy1_dx1, dy1_dx2)
(dy12_dx1, dy12_dx2) = torch.autograd.grad(outputs=[y1, y2], inputs=[x1, x2])
print("d (y1 + y2) / d(x1, x2):", dy12_dx1, dy12_dx2)
