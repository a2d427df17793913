"""A deep nn.TransformerEncoder (128 layers by default) on a small random batch.

python transformer_deep.py [LAYERS]
"""

import sys

import torch
from torch import nn

layers = int(sys.argv[1]) if len(sys.argv) > 1 else 128
torch.manual_seed(0)
layer = nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, batch_first=True, dropout=0.0)
encoder = nn.TransformerEncoder(layer, num_layers=layers, enable_nested_tensor=False)
head = nn.Linear(16, 1)
opt = torch.optim.SGD([*encoder.parameters(), *head.parameters()], lr=0.01)
x = torch.randn(2, 6, 16)
loss = head(encoder(x)).pow(2).mean()
opt.zero_grad()
loss.backward()
opt.step()
print(f"loss {loss.item():.4f}")
