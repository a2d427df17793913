# Folds inside folds, and a loop of the script's own: a stack of 4 identical blocks, each
# looping 12 times inside its forward, then 10 steps of a cell in a Python loop. The explorer's
# tests read its page: every node of every copy is found, drawn as its counterpart in the copy
# its level draws (the first block, the second step of a loop).
import torch
from torch import nn

torch.manual_seed(0)


class Recur(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.cell = nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for _ in range(12):
            h = torch.tanh(self.cell(h) + x)
        return h


class Stack(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(Recur() for _ in range(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for b in self.blocks:
            x = b(x)
        return x


stack = Stack()
cell = nn.Linear(8, 8)
out = stack(torch.randn(3, 8))
h = torch.zeros(3, 8)
for _step in range(10):
    h = torch.tanh(cell(h) * out)
loss = h.pow(2).mean()
loss.backward()
