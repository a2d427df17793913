"""backward() on a tensor that does not require grad
name: no-grad-fn
row:
seeds:
kinds: no-grad-fn@21
nodes: w, MulBackward0, SumBackward0, loss
explanation: Neither w nor x was created with requires_grad=True, so autograd recorded nothing:
loss has no grad_fn and backward() raises "element 0 of tensors does not require grad and does not
have a grad_fn". The same happens when the forward pass runs under torch.no_grad() or after
.detach(). graphscope marks the backward line; the fix is requires_grad=True on the leaf (here
w.requires_grad_()) before the forward pass.
"""

import torch

x = torch.tensor([1.0, 2.0])
w = torch.tensor([0.5, -0.5])
loss = (w * x).sum()
print("loss.requires_grad:", loss.requires_grad, "grad_fn:", loss.grad_fn)
try:
    loss.backward()
except RuntimeError as e:
    print("RuntimeError:", e)
w.requires_grad_()
loss = (w * x).sum()
loss.backward()
print("w.grad:", w.grad)
