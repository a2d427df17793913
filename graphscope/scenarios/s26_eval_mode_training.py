"""eval() for validation, and no train() after it
name: eval-mode-training
row:
seeds:
kinds: eval-mode-training@34
nodes: loss, model[4].weight
explanation: Each epoch ends with a validation pass in eval mode, and nothing switches the model
back: from the second epoch on, every training step runs with dropout off and BatchNorm
normalising with its frozen running statistics. The script runs and its loss falls, but the model
is not trained the way the code reads. graphscope names the model.eval() line, the layers it
changes and how many optimizer steps it affected; the fix is model.train() at the start of each
epoch (or after the validation pass). The first picture is the first epoch's graph, in train
mode, with dropout's multiplication before the layer of model[4].weight; the second graph, from
the later epochs, has none.
"""

import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(
    nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 1)
)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
x, y = torch.randn(16, 4), torch.randn(16, 1)
val_x, val_y = torch.randn(8, 4), torch.randn(8, 1)

for epoch in range(3):
    for i in range(0, 16, 8):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x[i : i + 8]), y[i : i + 8])
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        val_loss = nn.functional.mse_loss(model(val_x), val_y)
    print("epoch", epoch, "loss:", round(loss.item(), 4), "val:", round(val_loss.item(), 4))
