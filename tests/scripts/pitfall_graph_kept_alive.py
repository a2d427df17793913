# expect: graph-kept-alive@12 warning name=running_loss
import torch

w = torch.tensor([1.0], requires_grad=True)
opt = torch.optim.SGD([w], lr=0.1)
running_loss = 0.0
for _ in range(4):
    opt.zero_grad()
    loss = ((w * 3 - 1) ** 2).sum()
    loss.backward()
    opt.step()
    running_loss += loss  # keeps every step's graph: should be loss.item()
print(float(running_loss))
