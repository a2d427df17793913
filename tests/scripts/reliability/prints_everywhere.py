"""Writes to standard output every way a program can."""

import os
import subprocess
import sys

import torch

print("print")
sys.__stdout__.write("sys.__stdout__\n")
sys.__stdout__.flush()
os.write(1, b"os.write\n")
subprocess.run([sys.executable, "-c", "print('child process')"], check=True)
w = torch.ones(2, requires_grad=True)
(w * 2).sum().backward()
for i in range(3000):
    print("line", i)
