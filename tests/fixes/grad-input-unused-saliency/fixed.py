import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 3))
image = torch.randn(1, 8, requires_grad=True)
score = model(image)[0, 2]
(saliency,) = torch.autograd.grad(score, image)
print(saliency.abs().argmax().item())
