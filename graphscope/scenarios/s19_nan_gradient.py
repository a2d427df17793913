"""A gradient that becomes inf and NaN
name: nan-gradient
row:
seeds:
kinds: nonfinite-grad@19
nodes: x, y, SqrtBackward0, loss
explanation: The forward pass is fine: sqrt(0) = 0, the mask drops that entry, and the loss is
finite. But the derivative of sqrt(x) is 1 / (2 * sqrt(x)), which is inf at x = 0, and backward
multiplies it by the gradient that comes down through the mask, 0: 0 * inf is NaN, so x.grad holds
a NaN even though the masked entry never counted. graphscope marks the node where the non-finite
value first appears (SqrtBackward0, from the torch.sqrt line) so the learner does not have to
bisect the graph. The fix is to keep the input of sqrt away from 0 (torch.sqrt(x + 1e-12)) or to
mask before the sqrt, not after.
"""

import torch

x = torch.tensor([0.0, 1.0, 4.0], requires_grad=True)
y = torch.sqrt(x)
mask = torch.tensor([0.0, 1.0, 1.0])
loss = (y * mask).sum()
print("loss:", loss)
loss.backward()
print("x.grad:", x.grad)
