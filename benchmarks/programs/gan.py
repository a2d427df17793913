"""A GAN in the shape of pytorch/examples' dcgan: netG and netD, two optimizers, three backward
sites per iteration (real, fake.detach(), generator), a last partial batch.

    python gan.py [ITERATIONS]   (default 4)
"""

import sys

import torch
from torch import nn

iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 4
torch.manual_seed(0)
nz, nf = 8, 16


class Generator(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Linear(nz, nf), nn.BatchNorm1d(nf), nn.ReLU(True), nn.Linear(nf, 32), nn.Tanh()
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)


class Discriminator(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Linear(32, nf), nn.LeakyReLU(0.2, inplace=True), nn.Linear(nf, 1), nn.Sigmoid()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).view(-1)


netG = Generator()
netD = Discriminator()
criterion = nn.BCELoss()
optimizerD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
optimizerG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
data = torch.randn(8 * iterations - 3, 32)
for i, real in enumerate(data.split(8)):
    b = real.shape[0]
    netD.zero_grad()
    output = netD(real)
    errD_real = criterion(output, torch.ones(b))
    errD_real.backward()
    fake = netG(torch.randn(b, nz))
    output = netD(fake.detach())
    errD_fake = criterion(output, torch.zeros(b))
    errD_fake.backward()
    optimizerD.step()
    netG.zero_grad()
    output = netD(fake)
    errG = criterion(output, torch.ones(b))
    errG.backward()
    optimizerG.step()
    print(f"[{i}] loss_D {(errD_real + errD_fake).item():.4f} loss_G {errG.item():.4f}")
