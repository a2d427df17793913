"""Computational graph and leaves
name: computational-graph
row: 1
seeds: 003
kinds: nonleaf-grad-access@24
nodes: w, x, a, b, y, AddBackward0, MulBackward0
explanation: y = (w + x) * (w + 1) is built from two leaves, w and x, that the learner created
with requires_grad=True; a, b and y are made by operations. After y.backward() only the leaves
keep a gradient (w.grad = 5, x.grad = 2). a.grad, b.grad and y.grad read None: the gradients of
non-leaf tensors were computed on the way down and freed to save memory. In the picture the leaves
sit at the bottom with their .grad, the ops above them; graphscope marks the line that reads
.grad of a non-leaf, because None there is almost never what the learner wanted.
"""

import torch

w = torch.tensor([1.0], requires_grad=True)
x = torch.tensor([2.0], requires_grad=True)
a = torch.add(w, x)
b = torch.add(w, 1)
y = torch.mul(a, b)
y.backward()
print("is_leaf:", w.is_leaf, x.is_leaf, a.is_leaf, b.is_leaf, y.is_leaf)
print("gradient:", w.grad, x.grad, a.grad, b.grad, y.grad)
