# expect: ddp-param-ready-twice@30 error name=shared.bias
import os
import tempfile

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.checkpoint import checkpoint

store = tempfile.NamedTemporaryFile(delete=False).name  # a one-process group: no port needed
dist.init_process_group("gloo", init_method=f"file://{store}", rank=0, world_size=1)


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.shared = torch.nn.Linear(4, 4)

    def forward(self, x):
        # two reentrant checkpoints of the same layer: each runs its own backward through it
        h = checkpoint(self.shared, x, use_reentrant=True)
        return checkpoint(self.shared, h, use_reentrant=True)


try:
    model = DDP(Net(), find_unused_parameters=True)
    x = torch.randn(3, 4, requires_grad=True)
    out = model(x)
    loss = out.sum()
    loss.backward()
finally:
    dist.destroy_process_group()
    os.unlink(store)
