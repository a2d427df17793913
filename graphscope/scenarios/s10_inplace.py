"""In-place versus out-of-place, and in-place on a leaf
name: inplace
row: 10
seeds: 000 003
kinds: leaf-inplace@34
nodes: w, x, a, b, y
draw: y
explanation: a = a + 1 makes a new tensor and rebinds the name, a += 1 writes into the same tensor
(same object, same memory). id(a) differs from run to run, so the script prints the comparison,
whose output does not. In-place writes are why autograd forbids them on a leaf
that requires grad: backward reads w's value from the address it saved, so w.add_(1) raises "a leaf
Variable that requires grad is being used in an in-place operation." graphscope marks that line.
The picture is y's graph traced after the script ran (it makes no backward call).
"""

import torch

a = torch.ones((1,))
old_id = id(a)
a = a + torch.ones((1,))
print("a = a + 1 keeps the same tensor:", id(a) == old_id, a)

a = torch.ones((1,))
old_id = id(a)
a += torch.ones((1,))
print("a += 1 keeps the same tensor:", id(a) == old_id, a)

w = torch.tensor([1.0], requires_grad=True)
x = torch.tensor([2.0], requires_grad=True)
a = torch.add(w, x)
b = torch.add(w, 1)
y = torch.mul(a, b)
try:
    w.add_(1)
except RuntimeError as e:
    print("RuntimeError:", e)
