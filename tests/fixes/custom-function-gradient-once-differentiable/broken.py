import torch
from torch.autograd.function import once_differentiable


class Square(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 2 * x * grad


torch.manual_seed(0)
w = torch.randn(4, 3, requires_grad=True)
x = torch.randn(8, 4, requires_grad=True)
out = torch.tanh(Square.apply(x @ w)).sum()
(gx,) = torch.autograd.grad(out, x, create_graph=True)
penalty = gx.pow(2).sum()
penalty.backward()
print(w.grad.shape)
