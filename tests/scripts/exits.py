import sys

import torch

w = torch.tensor([1.0], requires_grad=True)
(w * 2).sum().backward()
print("argv:", sys.argv[1:])
sys.exit(3)
