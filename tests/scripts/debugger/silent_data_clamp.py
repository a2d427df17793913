# "Keep the hidden activations away from 0 and 1" done through .data: the write goes around
# autograd's version counter, so the sigmoid's backward uses the clamped values it never
# produced. torch raises nothing; the gradients are silently wrong.
import torch
import torch.nn as nn
from _dump import dump, grads

# (_dump: the test suite's byte-for-byte comparison of gradients; idle by default)
torch.manual_seed(0)
hidden = nn.Linear(6, 12)
head = nn.Linear(12, 1)
optimizer = torch.optim.SGD([*hidden.parameters(), *head.parameters()], lr=0.1)
x, y = torch.randn(32, 6), torch.randn(32, 1)

for _ in range(3):
    optimizer.zero_grad()
    h = torch.sigmoid(hidden(x))
    h.data.clamp_(0.3, 0.7)
    loss = nn.functional.mse_loss(head(h), y)
    loss.backward()
    dump(**grads(hidden, "hidden"), **grads(head, "head"))
    optimizer.step()
