# expect: view-inplace@7 error name=q
import torch

x = torch.randn(4, 12, requires_grad=True)
h = x * 2
q, k, v = h.chunk(3, dim=-1)
q += 1
(q * k + v).sum().backward()
