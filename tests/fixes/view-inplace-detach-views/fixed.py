import torch
import torch.nn as nn

torch.manual_seed(0)
gru = nn.GRU(4, 8, num_layers=2)
head = nn.Linear(8, 1)
opt = torch.optim.Adam([*gru.parameters(), *head.parameters()], lr=1e-2)
seq = torch.randn(30, 1, 4)
h_n = torch.zeros(2, 1, 8)
for i in range(0, 30, 10):
    opt.zero_grad()
    out, h_n = gru(seq[i : i + 10], h_n)
    loss = head(out).pow(2).mean()
    loss.backward()
    opt.step()
    h_n = h_n.detach()
    print(f"chunk {i // 10}: loss {loss.item():.4f}")
