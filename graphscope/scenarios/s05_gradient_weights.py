"""Weights for a non-scalar output: gradient= (grad_tensors)
name: gradient-weights
row: 5
seeds: 000 003 004
kinds: grad-accumulation@29
nodes: w, x, y0, y1, loss, CatBackward0
explanation: loss = [y0, y1] has two elements, so backward() needs to be told how to weigh them:
gradient= (called grad_tensors in older code) gives the weight of each element, and w.grad is the weighted
sum of dy0/dw = 5 and dy1/dw = 2. Weights [1, 2] give 5 + 2 * 2 = 9; weights [1, 1] give 7. The
graph is kept (retain_graph=True) for the second call and w.grad is reset to None in between, so
the two results are not added together. x.grad is not reset, so it sums both calls (4, then
4 + 3 = 7): graphscope notes that accumulation (info: harmless here, since only w.grad is read).
In the picture both y0 and y1 feed the CatBackward0 node.
"""

import torch

w = torch.tensor([1.0], requires_grad=True)
x = torch.tensor([2.0], requires_grad=True)
a = torch.add(w, x)
b = torch.add(w, 1)
y0 = torch.mul(a, b)  # y0 = (x + w) * (w + 1)
y1 = torch.add(a, b)  # y1 = (x + w) + (w + 1)
loss = torch.cat([y0, y1], dim=0)
print("loss:", loss)
loss.backward(gradient=torch.tensor([1.0, 2.0]), retain_graph=True)
print("w.grad with weights [1, 2]:", w.grad)
w.grad = None
loss.backward(gradient=torch.tensor([1.0, 1.0]))
print("w.grad with weights [1, 1]:", w.grad)
