"""A running total that keeps every step's graph
name: graph-kept-alive
row:
seeds:
kinds: graph-kept-alive@29
nodes: w, loss
explanation: total_loss += loss adds the loss tensor itself, with its graph: after the first
step total_loss is a tensor that requires grad, and each addition links the new step's graph to
all the earlier ones, so none of them is ever freed and memory grows with every batch (the usual
"out of memory after a few hundred batches"). The printed total shows grad_fn=<AddBackward0>.
graphscope reports the accumulating line and the variable; the fix is total_loss +=
loss.item(), which adds a plain number, as the second loop does.
"""

import torch

torch.manual_seed(0)
w = torch.tensor([0.5], requires_grad=True)
optimizer = torch.optim.SGD([w], lr=0.1)
xs = torch.randn(4, 1)
ys = 3 * xs

total_loss = 0.0
for x, y in zip(xs, ys, strict=True):
    optimizer.zero_grad()
    loss = ((w * x - y) ** 2).sum()
    loss.backward()
    optimizer.step()
    total_loss += loss
print("total_loss:", total_loss)

total = 0.0
for x, y in zip(xs, ys, strict=True):
    optimizer.zero_grad()
    loss = ((w * x - y) ** 2).sum()
    loss.backward()
    optimizer.step()
    total += loss.item()
print("total:", round(total, 4))
