"""Logistic regression in numpy, next to autograd
name: logistic-regression-numpy
row: 14
seeds: 002
kinds:
nodes: theta_t, bias_t, MmBackward0, SigmoidBackward0, LogBackward0, MeanBackward0, loss_t
explanation: The numpy version writes every step by hand: the forward pass (a dot product
and a sigmoid), the loss (binary cross entropy with a small epsilon inside the log), and the
gradient from the formula dJ/dtheta = mean((y_hat - y) * x). Computing the same loss with torch
tensors and calling backward() gives the same gradient: autograd does this calculus for every
operation it recorded. (Dividing by x.shape[-1], the number of features, instead of the
number of samples is an easy slip; comparing with autograd is how it shows up. Here m = x.shape[0].) The
data stand in for sklearn's make_classification (100 samples, 10 features, numpy seed 0).
"""

import numpy as np
import torch

rng = np.random.default_rng(0)
X = rng.standard_normal((100, 10))
y = (X @ rng.standard_normal(10) > 0).astype(float)
theta = rng.standard_normal((1, 10))
bias = 0.0


def forward(x, theta, bias):
    z = np.dot(theta, x.T) + bias  # linear
    y_hat = 1 / (1 + np.exp(-z))  # sigmoid
    return y_hat


def loss_function(y, y_hat):
    e = 1e-8  # keeps log() away from 0
    return -y * np.log(y_hat + e) - (1 - y) * np.log(1 - y_hat + e)


def calc_gradient(x, y, y_hat):
    m = x.shape[0]  # number of samples
    delta_w = np.dot(y_hat - y, x) / m
    delta_b = np.mean(y_hat - y)
    return delta_w, delta_b


# by hand
y_hat = forward(X, theta, bias)
loss = np.mean(loss_function(y, y_hat))
dw, db = calc_gradient(X, y, y_hat)

# the same computation with autograd
theta_t = torch.tensor(theta, requires_grad=True)
bias_t = torch.tensor(bias, requires_grad=True)
X_t, y_t = torch.tensor(X), torch.tensor(y)
y_hat_t = torch.sigmoid(theta_t @ X_t.T + bias_t)
loss_t = torch.mean(-y_t * torch.log(y_hat_t + 1e-8) - (1 - y_t) * torch.log(1 - y_hat_t + 1e-8))
loss_t.backward()

print(f"loss by hand: {loss:.6f}  autograd: {loss_t.item():.6f}")
print("dw by hand:  ", " ".join(f"{v:.4f}" for v in dw.ravel()))
print("dw autograd: ", " ".join(f"{v:.4f}" for v in theta_t.grad.numpy().ravel()))
print(f"db by hand: {db:.4f}  autograd: {bias_t.grad.item():.4f}")
print("same gradient:", np.allclose(dw, theta_t.grad.numpy(), atol=1e-6))

# training with the hand-made gradient
lr = 0.1
for i in range(500):
    y_hat = forward(X, theta, bias)
    loss = np.mean(loss_function(y, y_hat))
    if i % 100 == 0:
        print(f"step {i} loss: {loss:.4f}")
    dw, db = calc_gradient(X, y, y_hat)
    theta -= lr * dw
    bias -= lr * db
