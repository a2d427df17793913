# A learning rate far too high: the first steps look fine, then the weights blow up and the loss
# and gradients turn NaN a few iterations in (nothing is wrong at step 0).
import torch
import torch.nn as nn
import torch.nn.functional as F
from _dump import dump, grads

# (_dump: the test suite's byte-for-byte comparison of gradients; idle by default)
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 10))
optimizer = torch.optim.SGD(model.parameters(), lr=1e12)
x, target = torch.randn(64, 20), torch.randint(0, 10, (64,))

for step in range(6):
    optimizer.zero_grad()
    output = F.log_softmax(model(x), dim=1)
    loss = F.nll_loss(output, target)
    loss.backward()
    dump(**grads(model, "model"))
    optimizer.step()
    print(f"step {step}: loss {loss.item()}")
