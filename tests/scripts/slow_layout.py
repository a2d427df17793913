"""A small graph (g1, drawn in a blink), then a dense one (g2) whose layout takes long.

g2 has WIDTH ops per layer, each stacking all WIDTH outputs of the layer before: about
WIDTH² × LAYERS edges (88k at the default 120 × 6: ~15 s for graphviz-pure, minutes for dot).
"""

import sys

import torch

width = int(sys.argv[1]) if len(sys.argv) > 1 else 120
layers = int(sys.argv[2]) if len(sys.argv) > 2 else 6

a = torch.ones(2, requires_grad=True)
(a * 3).sum().backward()

x = torch.ones(2, requires_grad=True)
h = [x * float(i) for i in range(width)]
for _ in range(layers):
    h = [torch.stack(h).sum(0) * float(j) for j in range(width)]
torch.stack(h).sum().backward()
