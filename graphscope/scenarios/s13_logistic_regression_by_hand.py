"""Logistic regression by hand in torch
name: logistic-regression-by-hand
row: 13
seeds: 002
kinds:
nodes: w, b, AddmmBackward0, SigmoidBackward0, BinaryCrossEntropyBackward0, loss
explanation: No nn.Module and no optimizer: w and b are plain leaves, the forward pass is
F.linear + torch.sigmoid, the loss F.binary_cross_entropy, and the update is written out under
torch.no_grad(), where w -= lr * w.grad is an in-place write on a leaf that autograd allows
(nothing is being recorded), followed by w.grad.zero_() so the next backward starts from zero.
Instead of sklearn's make_classification(n_features=10) (sklearn is not a dependency here),
an equivalent data set (100 samples, 10 features, labels from a noisy linear rule) is drawn with
torch.manual_seed(0) and randn. 5000 steps with lr 1e-3 would learn too; this runs 500 steps with
lr 0.1 so that it finishes in well under a second.
"""

import torch
import torch.nn.functional as F

torch.manual_seed(0)

# data: 100 samples, 10 features (instead of sklearn's make_classification)
X = torch.randn(100, 10)
true_w = torch.randn(10)
y = (X @ true_w + 0.5 * torch.randn(100) > 0).float()

# parameters
w = torch.randn(1, 10, requires_grad=True)
b = torch.randn(1, requires_grad=True)
learn_rate = 0.1

for i in range(500):
    r = F.linear(X, w, b)
    r = torch.sigmoid(r)
    loss = F.binary_cross_entropy(r.squeeze(1), y, reduction="mean")
    loss.backward()
    with torch.no_grad():
        w -= learn_rate * w.grad
        w.grad.zero_()
        b -= learn_rate * b.grad
        b.grad.zero_()
    if i % 100 == 0:
        print(f"step {i} train loss: {loss.item():.4f}")

accuracy = ((r.squeeze(1) > 0.5).float() == y).float().mean()
print(f"final train loss: {loss.item():.4f}, accuracy: {accuracy.item():.2f}")
