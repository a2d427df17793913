"""Mixed precision whose scale never settles
name: amp-overflow
row:
seeds:
kinds: amp-overflow@29
nodes: similarity, MmBackward0
explanation: A contrastive-style loss under float16 autocast with a GradScaler. The features are
raw (not normalised), so the pairwise similarities z @ z.T exceed float16's largest value
(65504) in the forward pass: the loss is NaN at every step, GradScaler skips every step and
halves its scale each time, and the encoder never trains while the script runs without an error.
graphscope counts the skipped steps, says the scale fell below 1 without settling, and names the
matmul on the similarity line as where the NaN starts (its float16 result overflows); the fix
keeps its values in range, by normalising the embeddings (or computing that line in float32).
"""

import torch
import torch.nn as nn

torch.manual_seed(0)
encoder = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 8))
optimizer = torch.optim.Adam(encoder.parameters(), lr=1e-3)
scaler = torch.amp.GradScaler("cpu")
x = torch.randn(16, 8) * 300

for step in range(20):
    optimizer.zero_grad()
    with torch.autocast("cpu", dtype=torch.float16):
        z = encoder(x)
        similarity = z @ z.T
        loss = nn.functional.cross_entropy(similarity, torch.arange(16))
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    if step % 5 == 4:
        print("step", step, "loss:", loss.item(), "scale:", scaler.get_scale())
