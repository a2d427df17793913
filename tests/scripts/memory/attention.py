"""A small transformer whose attention scores dominate what backward holds (the memory tab's
browser test, and the report's): 2 blocks, 4 heads, 128 tokens; ``--checkpoint`` wraps each
block's attention in torch.utils.checkpoint, as the report advises."""

import sys

import torch
import torch.nn as nn
from torch.utils.checkpoint import checkpoint

CHECKPOINT = "--checkpoint" in sys.argv


class Attention(nn.Module):
    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=-1)
        q = q.view(b, t, self.heads, -1).transpose(1, 2)
        k = k.view(b, t, self.heads, -1).transpose(1, 2)
        v = v.view(b, t, self.heads, -1).transpose(1, 2)
        scores = q @ k.transpose(-2, -1) / (q.shape[-1] ** 0.5)
        att = scores.softmax(-1)
        return self.proj((att @ v).transpose(1, 2).reshape(b, t, d))


class Block(nn.Module):
    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.ln = nn.LayerNorm(d)
        self.attn = Attention(d, heads)
        self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.ln(x)
        x = x + (checkpoint(self.attn, h, use_reentrant=False) if CHECKPOINT else self.attn(h))
        return x + self.mlp(x)


torch.manual_seed(0)
blocks = nn.Sequential(Block(32, 4), Block(32, 4))
x = torch.randn(2, 128, 32)
loss = blocks(x).square().mean()
loss.backward()
print(f"loss {loss.item():.4f}")
