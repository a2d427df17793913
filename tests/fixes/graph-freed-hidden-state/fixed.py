import torch
import torch.nn as nn

torch.manual_seed(0)
rnn = nn.GRU(4, 8, batch_first=True)
head = nn.Linear(8, 1)
opt = torch.optim.Adam([*rnn.parameters(), *head.parameters()], lr=1e-2)
series = torch.randn(1, 40, 4)
target = torch.randn(1, 40, 1)

h = torch.zeros(1, 1, 8)
for i in range(0, 40, 10):
    opt.zero_grad()
    h = h.detach()
    out, h = rnn(series[:, i : i + 10], h)
    loss = nn.functional.mse_loss(head(out), target[:, i : i + 10])
    loss.backward()
    opt.step()
    print(f"chunk {i // 10}: loss {loss.item():.4f}")
