# expect: grad-input-unused@7 error name=b
import torch

w = torch.randn(3, requires_grad=True)
b = torch.randn(3, requires_grad=True)
loss = (w * 2).sum()
gw, gb = torch.autograd.grad(loss, [w, b])
