# expect: graph-grows@13 warning name=h
import torch

torch.manual_seed(0)
w = torch.tensor([0.5], requires_grad=True)
opt = torch.optim.SGD([w], lr=0.1)
xs, ys = torch.randn(5, 3), torch.randn(5, 3)

# retain_graph=True silenced "backward through the graph a second time"; h is never detached
h = torch.zeros(3)
for x, y in zip(xs, ys, strict=True):
    opt.zero_grad()
    h = torch.tanh(0.5 * h + w * x)
    loss = ((h - y) ** 2).sum()
    loss.backward(retain_graph=True)
    opt.step()
