import torch
import torch.nn as nn


class GAN:
    def __init__(self):
        self.G = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
        self.D = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1))
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=2e-4)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=2e-4)

    def step(self, real):
        fake = self.G(torch.randn(16, 2))
        d_loss = self.D(real).mean() - self.D(fake).mean()
        self.opt_d.zero_grad()
        d_loss.backward()
        self.opt_d.step()
        g_loss = -self.D(fake).mean()
        self.opt_g.zero_grad()
        g_loss.backward()
        self.opt_g.step()


torch.manual_seed(0)
gan = GAN()
for _ in range(2):
    gan.step(torch.randn(16, 2))
