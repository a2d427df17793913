import os
import sys

import torch

w = torch.tensor([2.0], requires_grad=True)
loss = (w * w).sum()
loss.backward()
print("name:", __name__, "package:", __package__)
print("argv:", [os.path.relpath(sys.argv[0]), *sys.argv[1:]])
print("path0:", sys.path[0] == os.getcwd())
print("grad:", w.grad)
