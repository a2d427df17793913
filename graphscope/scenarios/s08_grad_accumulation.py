"""Gradients are not zeroed between backward calls
name: grad-accumulation
row: 8
seeds: 000 003 004
kinds: grad-accumulation@23
nodes: w, y
explanation: Each loop builds the graph again and calls backward, but .grad is never reset, so
every call adds its gradient to the previous ones: w.grad reads 5, 10, 15, 20. graphscope marks
the backward line and shows the gradient history on w. The second loop zeroes the gradients at
the start of each step (as optimizer.zero_grad() would) and w.grad reads 5 every time. (Write
w.grad.zero_(): a bare grad.zero_() would raise a NameError.)
"""

import torch

w = torch.tensor([1.0], requires_grad=True)
x = torch.tensor([2.0], requires_grad=True)

for _ in range(4):
    a = torch.add(w, x)
    b = torch.add(w, 1)
    y = torch.mul(a, b)
    y.backward()
    print("w.grad:", w.grad)

for _ in range(4):
    w.grad.zero_()
    x.grad.zero_()
    a = torch.add(w, x)
    b = torch.add(w, 1)
    y = torch.mul(a, b)
    y.backward()
    print("w.grad after zero_():", w.grad)
