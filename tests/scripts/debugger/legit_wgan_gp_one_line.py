# WGAN-GP with the critic called inside the autograd.grad line (create_graph=True), a generator
# step after each critic step: the higher-order graph is rebuilt every iteration, nothing is
# accumulated across iterations.
import torch
import torch.nn as nn
from _dump import dump, grads

torch.manual_seed(0)
D = nn.Sequential(nn.Linear(4, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
G = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 4))
opt_d = torch.optim.Adam(D.parameters(), lr=1e-4)
opt_g = torch.optim.Adam(G.parameters(), lr=1e-4)
for _ in range(4):
    real = torch.randn(8, 4)
    fake = G(torch.randn(8, 2))
    eps = torch.rand(8, 1)
    mix = (eps * real + (1 - eps) * fake.detach()).requires_grad_(True)
    (g,) = torch.autograd.grad(D(mix).sum(), mix, create_graph=True)
    gp = ((g.norm(2, dim=1) - 1) ** 2).mean()
    loss_d = D(fake.detach()).mean() - D(real).mean() + 10 * gp
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()
    loss_g = -D(G(torch.randn(8, 2))).mean()
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
dump(**grads(D, "D"), **grads(G, "G"))
