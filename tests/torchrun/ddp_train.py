"""A DDP training script for tests/test_distributed.py: ``ddp_train.py MODE [GRADS_DIR]``.

MODE: ``ok`` (every parameter used), ``unused`` (``aux`` never used: DDP's unfinished-reduction
error on every rank), ``branch`` (rank 1 skips ``aux``: the ranks' graphs differ), ``crash``
(rank 1 dies without a word once rank 0's report is written; no process group). With GRADS_DIR
each rank saves its parameters' gradients there (``grads<rank>.pt``) after training.
"""

import datetime
import os
import sys
import time

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

mode = sys.argv[1]
rank = int(os.environ["RANK"])
if mode == "crash":
    if rank == 1:  # wait until rank 0 waits for us, then die the hard way
        report = os.path.join(os.environ["GRAPHSCOPE_TEST_OUT"], "rank0", "rank.json")
        deadline = time.monotonic() + 120
        while not os.path.exists(report) and time.monotonic() < deadline:
            time.sleep(0.1)
        os._exit(3)
    sys.exit(0)

dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=60))
torch.manual_seed(0)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Linear(4, 8)
        self.head = nn.Linear(8, 2)
        self.aux = nn.Linear(8, 2)

    def forward(self, x):
        h = torch.relu(self.encoder(x))
        if mode == "unused" or (mode == "branch" and rank == 1):
            return self.head(h)  # the short way
        return self.head(h) + self.aux(h)  # the long way


model = DDP(Net())
opt = torch.optim.SGD(model.parameters(), lr=0.1)
torch.manual_seed(1 + rank)  # each rank its own data
for _step in range(3):
    x = torch.randn(5, 4)
    loss = model(x).pow(2).mean()  # forward
    opt.zero_grad()
    loss.backward()  # backward
    opt.step()
print(f"rank {rank}: loss {loss.item():.6f}")
if len(sys.argv) > 2:
    grads = {n: p.grad for n, p in model.module.named_parameters()}
    torch.save(grads, os.path.join(sys.argv[2], f"grads{rank}.pt"))
dist.destroy_process_group()
