import os
import signal

import torch

w = torch.tensor([1.0], requires_grad=True)
for i in range(5):
    (w * (i + 1)).sum().backward()
    if i == 1:
        os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C would, after two backward calls
print("not reached")
