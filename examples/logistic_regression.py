"""Logistic regression with nn.Module, as in the seed notes (row 11): the five training steps.

    graphscope render examples/logistic_regression.py -o out/

draws the model's autograd graph once (the loop builds the same graph at every iteration):
features.weight and features.bias feed AddmmBackward0, then SigmoidBackward0, then the
BCELoss's BinaryCrossEntropyBackward0 and the loss.
"""

import torch
import torch.nn as nn

torch.manual_seed(10)

# step 1/5: data, two Gaussian blobs of 100 samples each
sample_nums = 100
mean_value = 1.7
bias = 1
n_data = torch.ones(sample_nums, 2)
x0 = torch.normal(mean_value * n_data, 1) + bias  # class 0, shape (100, 2)
y0 = torch.zeros(sample_nums)
x1 = torch.normal(-mean_value * n_data, 1) + bias  # class 1, shape (100, 2)
y1 = torch.ones(sample_nums)
train_x = torch.cat((x0, x1), 0)
train_y = torch.cat((y0, y1), 0)


# step 2/5: the model
class LR(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Linear(2, 1)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        x = self.features(x)
        x = self.sigmoid(x)
        return x


lr_net = LR()

# step 3/5: the loss
loss_fn = nn.BCELoss()

# step 4/5: the optimizer
optimizer = torch.optim.SGD(lr_net.parameters(), lr=0.01, momentum=0.9)

# step 5/5: training
for iteration in range(1000):
    y_pred = lr_net(train_x)
    loss = loss_fn(y_pred.squeeze(), train_y)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    if iteration % 20 == 0:
        mask = y_pred.ge(0.5).float().squeeze()
        acc = (mask == train_y).sum().item() / train_y.size(0)
        if acc > 0.99:
            break

w0, w1 = lr_net.features.weight[0].tolist()
print(f"stopped at iteration {iteration}: accuracy {acc:.2%}, loss {loss.item():.4f}")
print(f"w0={w0:.4f} w1={w1:.4f} b={lr_net.features.bias.item():.4f}")
