"""A second backward needs retain_graph=True
name: retain-graph
row: 4
seeds: 000 003
kinds: grad-accumulation@24 graph-freed@35
nodes: w, a, b, MulBackward0
explanation: backward() frees the values the graph saved for it (a and b, saved by the
multiplication) as soon as it is done. With retain_graph=True the first call keeps them, so a
second backward works, and its gradient is added to the first: w.grad goes from 5 to 10
(graphscope notes the accumulation). The second half resets the gradients and builds the graph
again without retain_graph: the second backward then raises "Trying to backward through the graph
a second time", and the picture shows the saved values of MulBackward0 as freed.
"""

import torch

w = torch.tensor([1.0], requires_grad=True)
x = torch.tensor([2.0], requires_grad=True)
a = torch.add(w, x)
b = torch.add(w, 1)
y = torch.mul(a, b)
y.backward(retain_graph=True)
print("w.grad after the first backward:", w.grad)
y.backward()
print("w.grad after the second backward:", w.grad)

w.grad = None
x.grad = None
a = torch.add(w, x)
b = torch.add(w, 1)
y = torch.mul(a, b)
y.backward()
print("w.grad:", w.grad)
try:
    y.backward()
except RuntimeError as e:
    print("RuntimeError:", e)
