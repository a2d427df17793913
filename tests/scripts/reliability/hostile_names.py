"""Modules named with text that breaks naive DOT ids, file names and HTML."""

from collections import OrderedDict

import torch

NAMES = [
    "back\\",
    'quo"te',
    "new\nline",
    "<!--<script>",
    "x" * 300,
    "модель é",
    "100%",
    "with space",
    "a_b",
    "a b",
]
torch.manual_seed(0)
blocks = OrderedDict(
    (n, torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Tanh(), torch.nn.Linear(4, 4)))
    for n in NAMES
)
model = torch.nn.Sequential(blocks)
loss = model(torch.randn(2, 4)).pow(2).sum()
loss.backward()
print("loss", loss.item())
