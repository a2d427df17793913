"""A recurrent state kept with retain_graph=True instead of detached
name: graph-grows
row:
seeds:
kinds: graph-grows@28
nodes: w, loss, TanhBackward0
explanation: The state h is carried from one batch to the next. Without h.detach(), the second
backward call raised "Trying to backward through the graph a second time", and
retain_graph=True made the error go away: now each backward call goes back through every earlier
batch's graph as well, which stays in memory. Nothing fails, but the graph (and the time and
memory of each step) grows with every batch, and the old batches keep adding to w's gradient:
the pictures are the graph of each call, one batch longer each time. graphscope reports the line
that carries h; the fix is h = h.detach() once per batch, without retain_graph=True, as the
second loop does: its graph is the same at every step.
"""

import torch

torch.manual_seed(0)
w = torch.tensor([0.5], requires_grad=True)
optimizer = torch.optim.SGD([w], lr=0.1)
xs = torch.randn(4, 3)
ys = torch.randn(4, 3)

h = torch.zeros(3)
for x, y in zip(xs, ys, strict=True):
    optimizer.zero_grad()
    h = torch.tanh(0.5 * h + w * x)
    loss = ((h - y) ** 2).sum()
    loss.backward(retain_graph=True)
    optimizer.step()
    print("loss:", round(loss.item(), 4), "w:", round(w.item(), 4))

h = torch.zeros(3)
for x, y in zip(xs, ys, strict=True):
    optimizer.zero_grad()
    h = h.detach()
    h = torch.tanh(0.5 * h + w * x)
    loss = ((h - y) ** 2).sum()
    loss.backward()
    optimizer.step()
    print("loss:", round(loss.item(), 4), "w:", round(w.item(), 4))
