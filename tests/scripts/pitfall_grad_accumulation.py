# expect: grad-accumulation@12 warning name=model.weight
import torch

torch.manual_seed(0)
model = torch.nn.Linear(3, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
data = torch.randn(8, 3)
target = torch.randn(8, 1)
for _step in range(3):
    # the bug: no opt.zero_grad(), so each step uses the sum of all gradients so far
    loss = torch.nn.functional.mse_loss(model(data), target)
    loss.backward()
    opt.step()
