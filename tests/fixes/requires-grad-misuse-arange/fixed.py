import torch

torch.manual_seed(0)
steps = torch.arange(10)
steps = steps.float()
steps.requires_grad_()
curve = (0.9**steps).sum()
curve.backward()
print(steps.grad)
