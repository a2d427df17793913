"""Changes directory before its backward, prints at exit, and leaves a child process writing
to the inherited standard output after the script itself has ended.

usage: wanders.py DIR   (the directory it moves into)
"""

import atexit
import os
import subprocess
import sys

import torch

atexit.register(print, "bye from atexit")
os.makedirs(sys.argv[1], exist_ok=True)
os.chdir(sys.argv[1])
w = torch.ones(3, requires_grad=True)
loss = (w * 2).sum()
loss.backward()
print("grad", w.grad.tolist())
subprocess.run([sys.executable, "-c", "print('child process')"], check=True)
late = "import time; time.sleep(0.5); print('late child', flush=True)"
subprocess.Popen([sys.executable, "-c", late])  # still writing after we are gone
