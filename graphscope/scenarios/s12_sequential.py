"""The same model as nn.Sequential
name: sequential
row: 12
seeds: 003
kinds:
nodes: lr_net[0].weight, lr_net[0].bias, AddmmBackward0, SigmoidBackward0, BinaryCrossEntropyBackward0, loss
explanation: The same logistic regression built with nn.Sequential instead of a class. The graph
is the same one as in logistic-regression, op for op; only the names change, because Sequential
names its children by position: named_parameters() gives 0.weight and 0.bias, so the picture
(which starts every name at your variable and writes it as Python does) shows lr_net[0].weight
and lr_net[0].bias instead of features.weight and features.bias. With the same seed the parameters start from the same values,
so training stops at the same iteration with the same accuracy.
"""

import torch
import torch.nn as nn

torch.manual_seed(10)

sample_nums = 100
mean_value = 1.7
bias = 1
n_data = torch.ones(sample_nums, 2)
x0 = torch.normal(mean_value * n_data, 1) + bias
y0 = torch.zeros(sample_nums)
x1 = torch.normal(-mean_value * n_data, 1) + bias
y1 = torch.ones(sample_nums)
train_x = torch.cat((x0, x1), 0)
train_y = torch.cat((y0, y1), 0)

lr_net = nn.Sequential(
    nn.Linear(2, 1),
    nn.Sigmoid(),
)
print("parameters:", [name for name, _ in lr_net.named_parameters()])

loss_fn = nn.BCELoss()
optimizer = torch.optim.SGD(lr_net.parameters(), lr=0.01, momentum=0.9)

for iteration in range(1000):
    y_pred = lr_net(train_x)
    loss = loss_fn(y_pred.squeeze(), train_y)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()

    if iteration % 20 == 0:
        mask = y_pred.ge(0.5).float().squeeze()
        correct = (mask == train_y).sum()
        acc = correct.item() / train_y.size(0)
        if acc > 0.99:
            break

print(f"stopped at iteration {iteration}: accuracy {acc:.4f}, loss {loss.item():.4f}")
