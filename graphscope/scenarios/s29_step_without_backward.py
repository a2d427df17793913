"""loss.backward without its parentheses
name: step-without-backward
row:
seeds:
kinds: step-without-backward@27
nodes: w, loss
draw: loss
explanation: The training step names the method, loss.backward, and never calls it: Python
reads the attribute and throws it away, no backward call runs, w never gets a gradient, and every
optimizer.step() changes nothing. The script runs to the end and prints the same loss three
times; neither torch nor Python says a word. graphscope sees optimizer steps and no backward call,
finds the bare statement and names it, with the fix: loss.backward(). The picture is the last
loss's graph, traced after the script ran (no backward call drew one).
"""

import torch

torch.manual_seed(0)
w = torch.tensor([0.0], requires_grad=True)
optimizer = torch.optim.SGD([w], lr=0.1)
x = torch.tensor([1.0, 2.0, 3.0])
y = 2 * x

for _ in range(3):
    optimizer.zero_grad()
    loss = ((w * x - y) ** 2).mean()
    loss.backward
    optimizer.step()
    print("loss:", round(loss.item(), 4), "w:", w.data)
