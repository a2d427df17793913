"""A reentrant checkpoint on the first block: its parameters never get a gradient
name: checkpoint-no-grad
row:
seeds:
kinds: checkpoint-no-grad@31
nodes: loss, block1.weight
explanation: Activation checkpointing saves memory by running a block's forward again during
backward. The reentrant implementation (use_reentrant=True, long the default) runs the block
under no_grad and gives its output a graph only through its inputs; the first block is fed the
data, which does not require grad, so its output has no graph and block1's parameters get no
gradient at all: the picture has only block2 and the head, and block1.weight.grad stays None
while the loss still falls. torch only warns "None of the inputs have requires_grad=True.
Gradients will be None". graphscope names the parameters left out at the checkpoint call; the
fix is use_reentrant=False (or an input that requires grad).
"""

import warnings

import torch
import torch.nn as nn
from torch.utils.checkpoint import checkpoint

warnings.simplefilter("ignore")  # the warning this scenario is about, printed by torch
torch.manual_seed(0)
x, y = torch.randn(16, 4), torch.randn(16, 1)
block1, block2, head = nn.Linear(4, 8), nn.Linear(8, 8), nn.Linear(8, 1)
params = [*block1.parameters(), *block2.parameters(), *head.parameters()]
optimizer = torch.optim.SGD(params, lr=0.1)
for _ in range(3):
    optimizer.zero_grad()
    h = checkpoint(block1, x, use_reentrant=True)
    h = block2(torch.relu(h))
    loss = nn.functional.mse_loss(head(torch.relu(h)), y)
    loss.backward()
    optimizer.step()
    print("loss:", round(loss.item(), 4), "block1.weight.grad:", block1.weight.grad)
