# expect: step-without-backward@10 warning name=`loss.backward`
import torch

w = torch.tensor([1.0], requires_grad=True)
opt = torch.optim.SGD([w], lr=0.1)
x = torch.tensor([1.0, 2.0, 3.0])
for _ in range(3):
    opt.zero_grad()
    loss = ((w * x - 2 * x) ** 2).mean()
    loss.backward  # the method, never called: no gradient, the step changes nothing
    opt.step()
