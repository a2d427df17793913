import torch
import torch.nn as nn

torch.manual_seed(0)
proj = nn.Linear(16, 48)
x = torch.randn(2, 5, 16)
qkv = proj(x)
q, k, v = qkv.chunk(3, dim=-1)
q *= 16**-0.5
attn = (q @ k.transpose(-2, -1)).softmax(dim=-1)
loss = (attn @ v).pow(2).mean()
loss.backward()
print(f"{proj.weight.grad.norm():.4f}")
