# A float16 GAN with one GradScaler: the generator's loss goes back through the discriminator
# and leaves Inf in the discriminator's scaled .grad, which optD.zero_grad() clears before the
# discriminator's next step; the discriminator's own first steps are a GradScaler warm-up.
import torch
import torch.nn as nn
from _dump import dump, grads

# (_dump: the test suite's byte-for-byte comparison of gradients; idle by default)
torch.manual_seed(0)
nz, B = 8, 256
netG = nn.Sequential(nn.Linear(nz, 64), nn.ReLU(), nn.Linear(64, 16), nn.Tanh())
netD = nn.Sequential(nn.Linear(16, 256), nn.LeakyReLU(0.2), nn.Linear(256, 1))
criterion = nn.BCEWithLogitsLoss()
optD = torch.optim.Adam(netD.parameters(), lr=1e-3, betas=(0.5, 0.999))
optG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
scaler = torch.amp.GradScaler("cpu")
data = [torch.randn(B, 16) + 3 for _ in range(3)]

for _ in range(2):
    for real in data:
        optD.zero_grad()
        with torch.autocast("cpu", dtype=torch.float16):
            fake = netG(torch.randn(B, nz))
            d_loss = criterion(netD(real), torch.ones(B, 1)) + criterion(
                netD(fake.detach()), torch.zeros(B, 1)
            )
        scaler.scale(d_loss).backward()
        scaler.step(optD)
        optG.zero_grad()
        with torch.autocast("cpu", dtype=torch.float16):
            g_loss = criterion(netD(fake), torch.ones(B, 1))
        scaler.scale(g_loss).backward()
        scaler.step(optG)
        scaler.update()
        print(f"D {d_loss.item():.4f} G {g_loss.item():.4f} scale {scaler.get_scale()}")
dump(**grads(netG, "netG"))
