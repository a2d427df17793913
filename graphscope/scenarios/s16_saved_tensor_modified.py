"""A tensor saved for backward, modified in place
name: saved-tensor-modified
row:
seeds: 003
kinds: saved-tensor-modified@24
nodes: w, x, b, y, MulBackward0
explanation: torch.mul(a, b) saves a and b, because the gradient of a product needs the other
factor: dy/dw = b + a. a.add_(1) then writes into a (its version goes from 0 to 1) after it was
saved, so backward would use a value the forward pass never saw; autograd notices the version
change and raises "one of the variables needed for gradient computation has been modified by an
inplace operation". The same rule that forbids in-place writes on a leaf, for any saved tensor.
graphscope marks the a.add_(1) line and points back at the multiplication that saved a; the
picture shows MulBackward0's saved a as stale (saved at version 0, now 1). The fix: a = a + 1,
or change a before using it.
"""

import torch

w = torch.tensor([1.0], requires_grad=True)
x = torch.tensor([2.0], requires_grad=True)
a = torch.add(w, x)
b = torch.add(w, 1)
y = torch.mul(a, b)
a.add_(1)
try:
    y.backward()
except RuntimeError as e:
    print("RuntimeError:", e)
