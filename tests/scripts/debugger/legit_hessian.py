# Second-order training signals: a Hessian and a Jacobian with create_graph=True (each one
# statement making several backward calls of its own), and a loop-free double backward.
import torch
from _dump import dump
from torch.autograd.functional import hessian, jacobian

torch.manual_seed(0)
w = torch.randn(3, requires_grad=True)
x = torch.randn(3, requires_grad=True)
(g,) = torch.autograd.grad((w * x).sin().sum(), x, create_graph=True)
g.pow(2).sum().backward()


def f(v):
    return (v**3 * w).sum()


for _ in range(3):
    H = hessian(f, x, create_graph=True)
    H.trace().backward()
    J = jacobian(lambda v: v.sin() * 2, x, create_graph=True)
    J.sum().backward()
dump(w=w.grad, x=x.grad)
