# WGAN-GP whose gradient penalty (torch.autograd.grad with create_graph=True inside a function)
# is called within the critic's loss expression: the penalty's backward call runs while the
# loss statement does, after D(fake).mean() was made on that line; nothing is carried across
# iterations.
import torch
import torch.nn as nn
from _dump import dump, grads

torch.manual_seed(0)
D = nn.Sequential(nn.Linear(4, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
G = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 4))
opt_d = torch.optim.Adam(D.parameters(), lr=1e-4)
opt_g = torch.optim.Adam(G.parameters(), lr=1e-4)


def gradient_penalty(critic, real, fake):
    eps = torch.rand(real.size(0), 1)
    mix = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (g,) = torch.autograd.grad(critic(mix).sum(), mix, create_graph=True)
    return ((g.norm(2, dim=1) - 1) ** 2).mean()


for _ in range(4):
    real = torch.randn(8, 4)
    fake = G(torch.randn(8, 2)).detach()
    opt_d.zero_grad()
    loss_d = D(fake).mean() - D(real).mean() + 10 * gradient_penalty(D, real, fake)
    loss_d.backward()
    opt_d.step()
    opt_g.zero_grad()
    loss_g = -D(G(torch.randn(8, 2))).mean()
    loss_g.backward()
    opt_g.step()
dump(**grads(D, "D"), **grads(G, "G"))
