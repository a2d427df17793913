# WGAN-GP's critic step: the gradient penalty differentiates the critic's output with respect to
# interpolated inputs (autograd.grad with create_graph=True) and adds it to the loss.
import torch
import torch.nn as nn
from _dump import dump, grads

# (_dump: the test suite's byte-for-byte comparison of gradients; idle by default)
torch.manual_seed(0)
critic = nn.Sequential(nn.Linear(8, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))
opt = torch.optim.Adam(critic.parameters(), lr=1e-4, betas=(0.0, 0.9))
real, fake = torch.randn(16, 8), torch.randn(16, 8)

for _ in range(3):
    opt.zero_grad()
    alpha = torch.rand(16, 1)
    interp = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    out = critic(interp)
    grad = torch.autograd.grad(out, interp, torch.ones_like(out), create_graph=True)[0]
    penalty = ((grad.norm(2, dim=1) - 1) ** 2).mean()
    loss = critic(fake).mean() - critic(real).mean() + 10 * penalty
    loss.backward()
    opt.step()
dump(**grads(critic, "critic"))
