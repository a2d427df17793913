# Small probabilities zeroed through a NumPy view of the softmax output "for numerical
# stability": the array shares memory with the tensor softmax saved for backward, and NumPy
# writes bump no version counter, so the gradient is silently computed from the changed values.
import torch
from _dump import dump

# (_dump: the test suite's byte-for-byte comparison of gradients; idle by default)
torch.manual_seed(0)
logits_w = torch.randn(5, 4, requires_grad=True)
x = torch.randn(3, 5)
target = torch.tensor([0, 2, 1])

probs = torch.softmax(x @ logits_w, dim=1)
p = probs.detach().numpy()
p[p < 0.1] = 0.0
loss = -torch.log(probs[torch.arange(3), target] + 1e-6).mean()
loss.backward()
dump(grad=logits_w.grad)
