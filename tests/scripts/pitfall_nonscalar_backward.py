# expect: nonscalar-backward@6 error name=y
import torch

w = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
y = w * 2
y.backward()  # y has 3 elements: which gradient should flow back?
