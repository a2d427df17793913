# expect: nonfinite-grad@6 error name=sqrt
import torch

x = torch.tensor([0.0, 1.0, 4.0], requires_grad=True)
mask = torch.tensor([0.0, 1.0, 1.0])
r = torch.sqrt(x)  # d sqrt(x)/dx at 0 is inf; times the mask's 0 gives nan
loss = (r * mask).sum()
loss.backward()
print("x.grad:", x.grad)
