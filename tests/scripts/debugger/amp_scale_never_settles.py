# Mixed precision with a scale that never settles: the pairwise similarities of raw (not
# normalised) embeddings overflow float16 in the forward pass, the loss is NaN, and GradScaler
# skips every step while its scale falls towards zero: the encoder never trains.
import torch
import torch.nn as nn
from _dump import dump, grads

# (_dump: the test suite's byte-for-byte comparison of gradients; idle by default)
torch.manual_seed(0)
encoder = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 32))
optimizer = torch.optim.Adam(encoder.parameters(), lr=1e-3)
scaler = torch.amp.GradScaler("cpu")
x = torch.randn(128, 32) * 200

for step in range(20):
    optimizer.zero_grad()
    with torch.autocast("cpu", dtype=torch.float16):
        z = encoder(x)
        similarity = z @ z.T
        loss = nn.functional.cross_entropy(similarity, torch.arange(128))
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    print(f"step {step}: loss {loss.item()}, scale {scaler.get_scale()}")
dump(**grads(encoder, "encoder"))
