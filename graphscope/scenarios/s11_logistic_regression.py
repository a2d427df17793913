"""Logistic regression with nn.Module: the five training steps
name: logistic-regression
row: 11
seeds: 000 001 003
kinds:
nodes: features.weight, features.bias, AddmmBackward0, SigmoidBackward0, SqueezeBackward0, BinaryCrossEntropyBackward0, loss
explanation: The five steps of training a model: data (two clouds of 100 points around 1.7 + 1 and -1.7 + 1),
model (LR: a Linear(2, 1) followed by a Sigmoid), loss (BCELoss), optimizer (SGD, lr 0.01,
momentum 0.9) and the training loop (forward, loss, backward, step, zero_grad). Every 20 iterations
it measures the accuracy and prints the weights, bias, accuracy and loss, and it stops
once the accuracy passes 0.99. The graph is the same at every iteration, so graphscope draws it once:
the data enters features (AddmmBackward0 with features.weight and features.bias), then sigmoid,
squeeze and the binary cross entropy. optimizer.zero_grad() after each step keeps the gradients from
piling up. torch.manual_seed(10) makes every run start from the same weights.
"""

import torch
import torch.nn as nn

torch.manual_seed(10)

# step 1/5: data
sample_nums = 100
mean_value = 1.7
bias = 1
n_data = torch.ones(sample_nums, 2)
x0 = torch.normal(mean_value * n_data, 1) + bias  # class 0, shape (100, 2)
y0 = torch.zeros(sample_nums)  # class 0 labels, shape (100,)
x1 = torch.normal(-mean_value * n_data, 1) + bias  # class 1, shape (100, 2)
y1 = torch.ones(sample_nums)  # class 1 labels, shape (100,)
train_x = torch.cat((x0, x1), 0)
train_y = torch.cat((y0, y1), 0)


# step 2/5: model
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

# step 3/5: loss
loss_fn = nn.BCELoss()

# step 4/5: optimizer
lr = 0.01
optimizer = torch.optim.SGD(lr_net.parameters(), lr=lr, momentum=0.9)

# step 5/5: training
for iteration in range(1000):
    y_pred = lr_net(train_x)
    loss = loss_fn(y_pred.squeeze(), train_y)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()

    if iteration % 20 == 0:
        mask = y_pred.ge(0.5).float().squeeze()  # threshold 0.5
        correct = (mask == train_y).sum()
        acc = correct.item() / train_y.size(0)
        w0, w1 = lr_net.features.weight[0]
        w0, w1 = float(w0.item()), float(w1.item())
        plot_b = float(lr_net.features.bias[0].item())
        print(
            f"Iteration: {iteration} w0:{w0:.2f} w1:{w1:.2f} b: {plot_b:.2f} "
            f"accuracy:{acc:.2%} Loss={loss.item():.4f}"
        )
        if acc > 0.99:
            break

print(f"stopped at iteration {iteration}: accuracy {acc:.4f}, loss {loss.item():.4f}")
