# expect: zeroed-before-step@9 warning name=opt.zero_grad()
import torch

w = torch.tensor([1.0], requires_grad=True)
opt = torch.optim.SGD([w], lr=0.1)
for _ in range(3):
    loss = ((w - 2) ** 2).sum()
    loss.backward()
    opt.zero_grad()  # after backward: the step gets no gradient
    opt.step()
