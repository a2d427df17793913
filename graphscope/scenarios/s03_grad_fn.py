"""grad_fn: how each tensor was made
name: grad-fn
row: 3
seeds: 003
kinds:
nodes: w, x, a, b, y, AddBackward0, MulBackward0
draw: y
explanation: Every tensor made by an operation remembers the backward function of that operation
in .grad_fn: a and b come from torch.add (AddBackward0), y from torch.mul (MulBackward0). The
leaves w and x were created by the learner, so their grad_fn is None. The op boxes in the picture
are exactly these grad_fn objects; the arrows are their next_functions. (Printing a grad_fn
object itself shows a memory address that changes from run to run; .name() keeps the output
stable.) The script makes no backward call, so the picture is y's graph traced after it ran.
"""

import torch

w = torch.tensor([1.0], requires_grad=True)
x = torch.tensor([2.0], requires_grad=True)
a = torch.add(w, x)
b = torch.add(w, 1)
y = torch.mul(a, b)
print("grad_fn of w, x:", w.grad_fn, x.grad_fn)
print("grad_fn of a, b, y:", a.grad_fn.name(), b.grad_fn.name(), y.grad_fn.name())
