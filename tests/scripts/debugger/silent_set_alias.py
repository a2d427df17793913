# A buffer reused through set_() on the same storage: the alias has its own version counter, so
# writing it changes the tanh output tanh saved for backward without torch noticing.
import torch
from _dump import dump

# (_dump: the test suite's byte-for-byte comparison of gradients; idle by default)
torch.manual_seed(0)
w = torch.randn(4, 4, requires_grad=True)
x = torch.randn(2, 4)

act = torch.tanh(x @ w)
scratch = torch.empty(0)
scratch.set_(act.untyped_storage(), act.storage_offset(), act.shape, act.stride())
scratch.mul_(0.5)
act.sum().backward()
dump(grad=w.grad)
