# Gradients were switched off for a quick sanity check of the untrained model and never switched
# back on before training.
import torch
import torch.nn as nn
from _dump import dump

# (_dump: the test suite's byte-for-byte comparison of gradients; idle by default)
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
x, y = torch.randn(32, 4), torch.randn(32, 1)

torch.set_grad_enabled(False)
print("untrained loss:", nn.functional.mse_loss(model(x), y).item())

for _ in range(5):
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    dump(loss=loss)
    loss.backward()
    optimizer.step()
