"""A U-Net: a down path of conv blocks, an up path that concatenates the skip connections.

python unet.py [LEVELS]   (default 4)
"""

import sys

import torch
from torch import nn
from torch.nn import functional as F


class ConvBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.norm1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.norm2 = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.norm1(self.conv1(x)))
        return F.relu(self.norm2(self.conv2(x)))


class UNet(nn.Module):
    def __init__(self, levels: int, base: int = 4) -> None:
        super().__init__()
        chans = [base * 2**i for i in range(levels + 1)]
        self.stem = ConvBlock(1, chans[0])
        self.down = nn.ModuleList([ConvBlock(chans[i], chans[i + 1]) for i in range(levels)])
        self.upsample = nn.ModuleList(
            [
                nn.ConvTranspose2d(chans[i + 1], chans[i], 2, stride=2)
                for i in reversed(range(levels))
            ]
        )
        self.up = nn.ModuleList(
            [ConvBlock(2 * chans[i], chans[i]) for i in reversed(range(levels))]
        )
        self.out = nn.Conv2d(chans[0], 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [self.stem(x)]
        for block in self.down:
            skips.append(block(F.max_pool2d(skips[-1], 2)))
        x = skips.pop()
        for upsample, block in zip(self.upsample, self.up, strict=True):
            x = block(torch.cat([upsample(x), skips.pop()], dim=1))
        return self.out(x)


levels = int(sys.argv[1]) if len(sys.argv) > 1 else 4
torch.manual_seed(0)
model = UNet(levels)
opt = torch.optim.SGD(model.parameters(), lr=0.01)
x = torch.randn(2, 1, 2**levels * 2, 2**levels * 2)
loss = F.mse_loss(model(x), x)
opt.zero_grad()
loss.backward()
opt.step()
print(f"loss {loss.item():.4f}")
