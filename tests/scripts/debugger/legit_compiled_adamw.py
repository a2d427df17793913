# A compiled model stepped by AdamW with two parameter groups (nanoGPT's configure_optimizers):
# the compiled forward runs no module hooks, and every parameter is in the optimizer.
import torch
import torch.nn as nn
from _dump import dump

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 1))
decay = [p for p in model.parameters() if p.dim() >= 2]
no_decay = [p for p in model.parameters() if p.dim() < 2]
groups = [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}]
opt = torch.optim.AdamW(groups, lr=1e-3)
compiled = torch.compile(model, backend="aot_eager")
x, y = torch.randn(32, 8), torch.randn(32, 1)
for _ in range(3):
    opt.zero_grad()
    loss = nn.functional.mse_loss(compiled(x), y)
    loss.backward()
    opt.step()
dump(**{n: p for n, p in model.named_parameters()})
