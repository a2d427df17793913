import os
import signal

import torch

w = torch.tensor([1.0], requires_grad=True)
done = 0
try:
    for i in range(5):
        (w * (i + 1)).sum().backward()
        done += 1
        if i == 1:
            os.kill(os.getpid(), signal.SIGINT)
except KeyboardInterrupt:
    print(f"interrupted after {done} steps, saving; w.grad = {w.grad}")
print("finished normally")
