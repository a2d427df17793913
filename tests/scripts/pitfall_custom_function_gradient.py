# expect: custom-function-gradient@13 error name=Double
import torch


class Double(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, factor):
        ctx.factor = factor
        return x * factor

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.factor


x = torch.randn(3, requires_grad=True)
Double.apply(x, 2.0).sum().backward()
