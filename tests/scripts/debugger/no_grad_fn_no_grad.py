# The forward pass was copied from the evaluation code, with its torch.no_grad() block: the loss
# has no graph, so backward() fails.
import torch
import torch.nn as nn
from _dump import dump

# (_dump: the test suite's byte-for-byte comparison of gradients; idle by default)
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 2))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
criterion = nn.CrossEntropyLoss()
inputs, targets = torch.randn(16, 10), torch.randint(0, 2, (16,))

for _ in range(3):
    optimizer.zero_grad()
    with torch.no_grad():
        outputs = model(inputs)
    loss = criterion(outputs, targets)
    dump(outputs=outputs, loss=loss)
    loss.backward()
    optimizer.step()
