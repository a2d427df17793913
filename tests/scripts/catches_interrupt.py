"""A script that handles its own Ctrl-C: under graphscope it must behave as under python."""

import os
import signal

import torch

print("SIGINT handler:", signal.getsignal(signal.SIGINT).__name__)
print("SIGTERM handler is SIG_DFL:", signal.getsignal(signal.SIGTERM) == signal.SIG_DFL)
try:
    os.kill(os.getpid(), signal.SIGINT)
except KeyboardInterrupt:
    print("caught KeyboardInterrupt")
w = torch.ones(1, requires_grad=True)
(w * 2).sum().backward()
print("grad:", w.grad.item())
