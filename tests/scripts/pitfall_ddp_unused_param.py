# expect: ddp-unused-param@26 error name=aux_head.weight
import os
import tempfile

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

store = tempfile.NamedTemporaryFile(delete=False).name  # a one-process group: no port needed
dist.init_process_group("gloo", init_method=f"file://{store}", rank=0, world_size=1)


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.body = torch.nn.Linear(4, 4)
        self.aux_head = torch.nn.Linear(4, 1)  # never used in forward

    def forward(self, x):
        return self.body(x)


try:
    model = DDP(Net())
    for _step in range(2):
        model(torch.randn(3, 4)).sum().backward()  # the 2nd forward raises DDP's error
finally:
    dist.destroy_process_group()
    os.unlink(store)
