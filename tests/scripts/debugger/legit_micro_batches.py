# Gradient accumulation over micro-batches: four backward calls sum into .grad, then one step and
# one zero_grad() (an effective batch four times larger than memory allows).
import torch
import torch.nn as nn
from _dump import dump

# (_dump: the test suite's byte-for-byte comparison of gradients; idle by default)
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(12, 24), nn.GELU(), nn.Linear(24, 4))
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
accumulation_steps = 4
batches = [(torch.randn(6, 12), torch.randint(0, 4, (6,))) for _ in range(12)]

optimizer.zero_grad()
for i, (x, y) in enumerate(batches):
    loss = nn.functional.cross_entropy(model(x), y) / accumulation_steps
    loss.backward()
    if (i + 1) % accumulation_steps == 0:
        optimizer.step()
        optimizer.zero_grad()
dump(**{n: p for n, p in model.named_parameters()})
