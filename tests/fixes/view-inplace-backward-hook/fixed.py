import torch
import torch.nn as nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.fc(x))


torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), Block(), nn.Linear(8, 1))
grad_norms = {}
model[1].act.register_full_backward_hook(
    lambda m, gin, gout: grad_norms.update(act=gout[0].norm().item())
)
x = torch.randn(16, 4)
loss = model(x).pow(2).mean()
loss.backward()
print(f"grad norm at act: {grad_norms['act']:.4f}")
