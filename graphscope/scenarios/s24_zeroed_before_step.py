"""zero_grad() between backward() and step()
name: zeroed-before-step
row:
seeds:
kinds: zeroed-before-step@25
nodes: w, loss
explanation: The three lines of a training step are in the wrong order: zero_grad() runs after
backward() has filled .grad and before step() uses it, so every step sees no gradient (None, with
set_to_none=True, the default) and w never moves: the loss stays the same at every step.
graphscope reports the reset line, with the backward call and the step it emptied; the order
that works is zero_grad(), backward(), step().
"""

import torch

torch.manual_seed(0)
w = torch.tensor([0.0], requires_grad=True)
optimizer = torch.optim.SGD([w], lr=0.1)
x = torch.tensor([1.0, 2.0, 3.0])
y = 2 * x

for _ in range(3):
    loss = ((w * x - y) ** 2).mean()
    loss.backward()
    optimizer.zero_grad()
    optimizer.step()
    print("loss:", round(loss.item(), 4), "w:", w.data)
