# Checking a custom autograd.Function's first and second derivatives: gradcheck and
# gradgradcheck perturb the inputs in place and put them back, and differentiate twice.
import torch
from _dump import dump


class Cube(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x**2 * g


torch.manual_seed(0)
x = torch.randn(3, dtype=torch.double, requires_grad=True)
assert torch.autograd.gradcheck(Cube.apply, (x,))
assert torch.autograd.gradgradcheck(Cube.apply, (x,))
assert torch.autograd.gradgradcheck(lambda v: (v.sin() * v).sum(), (x,))
Cube.apply(x).sum().backward()
dump(x=x.grad)
