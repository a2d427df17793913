"""torch.compile(model) or model.compile() of a model of ours (net) or an nn.Sequential (seq,
whose forward dynamo leaves to eager torch unless something else makes it trace the module's
call): three training steps; gradients saved to argv[4]."""

import sys

import torch

how, backend, kind, dump = sys.argv[1:5]
torch.manual_seed(0)


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = torch.nn.Linear(8, 16)
        self.fc2 = torch.nn.Linear(16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.fc1(x)))


model = (
    Net()
    if kind == "net"
    else torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
)
if how == "fn":
    cm = torch.compile(model, backend=backend)
else:
    model.compile(backend=backend)
    cm = model
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x, y = torch.randn(32, 8), torch.randn(32, 1)
for i in range(3):
    opt.zero_grad()
    loss = ((cm(x) - y) ** 2).mean()
    loss.backward()
    opt.step()
    print(i, loss.item())
torch.save({k: p.grad for k, p in model.named_parameters()}, dump)
