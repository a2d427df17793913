import torch
import torch.nn as nn

torch.manual_seed(0)
encoder = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 32))
optimizer = torch.optim.Adam(encoder.parameters(), lr=1e-3)
scaler = torch.amp.GradScaler("cpu")
x = torch.randn(128, 32) * 200  # raw features, not normalised

for step in range(20):
    optimizer.zero_grad()
    with torch.autocast("cpu", dtype=torch.float16):
        z = encoder(x)
        similarity = z @ z.T
        loss = nn.functional.cross_entropy(similarity, torch.arange(128))
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    if step % 5 == 4:
        print(f"step {step}: loss {loss.item():.4f}, scale {scaler.get_scale()}")
