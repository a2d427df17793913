# LBFGS needs a closure that re-evaluates the loss; it calls it several times per step.
import torch
import torch.nn as nn
from _dump import dump, grads

# (_dump: the test suite's byte-for-byte comparison of gradients; idle by default)
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))
optimizer = torch.optim.LBFGS(model.parameters(), lr=0.5, max_iter=5)
x = torch.linspace(-1, 1, 40).reshape(20, 2)
y = torch.sin(3 * x[:, :1]) * x[:, 1:]

for step in range(3):

    def closure():
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        return loss

    loss = optimizer.step(closure)
    print(step, loss.item())
dump(**grads(model, "model"))
