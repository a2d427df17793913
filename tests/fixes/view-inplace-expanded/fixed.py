import torch

torch.manual_seed(0)
w = torch.randn(8, requires_grad=True)
x = torch.randn(4, 8)
bias = torch.zeros(1).expand(4, 8).clone()
for _ in range(3):
    bias += 0.1 * w * x
loss = bias.pow(2).sum()
loss.backward()
print(w.grad)
