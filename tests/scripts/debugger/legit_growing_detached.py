# Curriculum training: each batch's sequences are longer than the last, so each backward's graph
# is larger than the one before. The memory of the previous batches is detached, and a second,
# auxiliary loss needs retain_graph=True on the first backward.
import torch
import torch.nn as nn
from _dump import dump, grads

# (_dump: the test suite's byte-for-byte comparison of gradients; idle by default)
torch.manual_seed(0)
cell, head, aux = nn.GRUCell(4, 8), nn.Linear(8, 1), nn.Linear(8, 1)
opt = torch.optim.Adam([*cell.parameters(), *head.parameters(), *aux.parameters()], lr=1e-2)
memory = torch.zeros(2, 8)
for step in range(6):
    h = memory
    for _ in range(3 + step):  # longer sequences every batch
        h = cell(torch.randn(2, 4), h)
    opt.zero_grad()
    head(h).pow(2).mean().backward(retain_graph=True)
    aux(h).abs().mean().backward()
    opt.step()
    memory = h.detach()
dump(**grads(cell, "cell"), **grads(aux, "aux"))
