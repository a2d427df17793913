import torch
import torch.nn as nn

torch.manual_seed(0)
encoder = nn.Linear(6, 4)
decoder = nn.Linear(4, 6)
x = torch.randn(8, 6)
recon_loss = (encoder(x) - 0.5).pow(2).mean()  # the decoder is not used in this loss
params = [encoder.weight, decoder.weight]
g_enc, g_dec = torch.autograd.grad(recon_loss, [encoder.weight, decoder.weight])
print(f"{g_enc.norm():.4f}", g_dec)
