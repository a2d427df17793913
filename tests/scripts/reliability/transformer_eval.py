"""An eval-mode TransformerEncoder under no_grad (torch's fused fast path), then one training
step of the same model; outputs and gradients saved to argv[1]."""

import sys

import torch

torch.manual_seed(0)
layer = torch.nn.TransformerEncoderLayer(d_model=16, nhead=4, dim_feedforward=32, batch_first=True)
encoder = torch.nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
x = torch.randn(2, 5, 16)
encoder.eval()
with torch.no_grad():
    fast = encoder(x)
mha = torch.nn.MultiheadAttention(16, 4, batch_first=True).eval()
with torch.no_grad():
    attn, _ = mha(x, x, x)
encoder.train()
loss = encoder(x).pow(2).mean()
loss.backward()
print(fast.sum().item(), attn.sum().item(), loss.item())
torch.save(
    {"fast": fast, "attn": attn, **{k: p.grad for k, p in encoder.named_parameters()}}, sys.argv[1]
)
