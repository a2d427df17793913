"""Tensors computed from leaves that require grad require grad
name: requires-grad
row: 9
seeds: 000 003
kinds:
nodes: w, a, b, y
draw: y
explanation: a, b and y were never given requires_grad=True, yet they require grad: they depend on
w, and autograd needs their gradients on the way to w.grad. Every tensor in the picture between the
leaves and y is such a tensor. (No backward call here: the picture is y's graph traced after the
script ran.)
"""

import torch

w = torch.tensor([1.0], requires_grad=True)
x = torch.tensor([2.0], requires_grad=True)
a = torch.add(w, x)
b = torch.add(w, 1)
y = torch.mul(a, b)
print("requires_grad:", a.requires_grad, b.requires_grad, y.requires_grad)
