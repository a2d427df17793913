# Linear regression by hand, "scaled initialisation": multiplying by 0.01 makes W the result of
# an operation, not a leaf, so W.grad stays None and the update fails.
import torch
from _dump import dump

# (_dump: the test suite's byte-for-byte comparison of gradients; idle by default)
torch.manual_seed(0)
X = torch.randn(64, 3)
y = X @ torch.tensor([[2.0], [-1.0], [0.5]]) + 0.3

W = torch.randn(3, 1, requires_grad=True) * 0.01
b = torch.zeros(1, requires_grad=True)
lr = 0.1

for epoch in range(20):
    pred = X @ W + b
    loss = ((pred - y) ** 2).mean()
    loss.backward()
    dump(b_grad=b.grad, loss=loss)
    with torch.no_grad():
        W -= lr * W.grad
        b -= lr * b.grad
        b.grad.zero_()
    print(epoch, loss.item())
