import sys

import torch

w = torch.tensor([1.0], requires_grad=True)
(w * 2).sum().backward()
sys.exit("fatal: no data in ./data")
