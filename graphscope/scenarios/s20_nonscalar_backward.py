"""backward() on a tensor with more than one element
name: nonscalar-backward
row:
seeds: 003 004
kinds: nonscalar-backward@18
nodes: x, y, MulBackward0, SumBackward0
explanation: y has three elements, so there is no single number to differentiate: y.backward()
raises "grad can be implicitly created only for scalar outputs". Either reduce to a scalar first
(y.sum(), y.mean(): what a loss does) or say how to weigh each element with gradient= (see
gradient-weights). graphscope marks the backward line.
"""

import torch

x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
y = x * 2
try:
    y.backward()
except RuntimeError as e:
    print("RuntimeError:", e)
y.sum().backward()
print("x.grad:", x.grad)
