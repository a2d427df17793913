import sys
import time

import torch

w = torch.tensor([1.0], requires_grad=True)
for i in range(3):
    (w * (i + 1)).sum().backward()
print("ready", flush=True)
sys.stdout.flush()
while True:  # until the test presses Ctrl-C (SIGINT)
    time.sleep(0.05)
