# expect: graph-freed@8 error name=loss
import torch

w = torch.tensor([1.0], requires_grad=True)
x = torch.tensor([2.0])
loss = ((w + x) * (w + 1)).sum()
loss.backward()
loss.backward()  # the graph was freed by the first call
