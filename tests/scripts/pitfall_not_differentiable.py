# expect: not-differentiable@6 error name=igamma
import torch

a = torch.tensor(2.0, requires_grad=True)
x = torch.tensor(1.0)
p = torch.special.gammainc(a, x)
p.backward()
