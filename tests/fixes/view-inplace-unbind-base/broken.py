import torch
import torch.nn as nn

torch.manual_seed(0)
encoder = nn.Linear(8, 2 * 4)
x = torch.randn(16, 8)
stats = encoder(x).view(16, 4, 2)
mu, logvar = stats.unbind(-1)
stats.clamp_(-5.0, 5.0)
z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(-1).mean()
loss = z.pow(2).mean() + kl
loss.backward()
print(f"{loss.item():.4f}")
