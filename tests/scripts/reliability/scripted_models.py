"""TorchScript and torch.fx modules trained with optimizers; dumps what it computed.

usage: scripted_models.py DUMP
"""

import sys

import torch


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = torch.nn.Linear(4, 8)
        self.fc2 = torch.nn.Linear(8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.fc1(x)))


torch.manual_seed(0)
scripted = torch.jit.script(Net())
traced = torch.jit.trace(Net(), torch.randn(2, 4))
fx = torch.fx.symbolic_trace(Net())
lin = torch.jit.script(torch.nn.Linear(3, 1))  # the program
opt0 = torch.optim.SGD(lin.parameters(), lr=0.1)
lin(torch.randn(2, 3)).sum().backward()
opt0.step()

models = {"scripted": scripted, "traced": traced, "fx": fx}
opts = {
    "scripted": torch.optim.SGD(scripted.parameters(), lr=0.1, momentum=0.9),
    "traced": torch.optim.Adam(traced.parameters(), lr=0.01),
    "fx": torch.optim.AdamW(fx.parameters(), lr=0.01),
}
x, y = torch.randn(16, 4), torch.randn(16, 1)
losses = []
for _step in range(3):
    for name, model in models.items():
        opts[name].zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opts[name].step()
        losses.append(loss.detach())
print("losses", [round(float(v), 6) for v in losses])
state = {f"{n}.{k}": v for n, m in models.items() for k, v in m.state_dict().items()}
state.update({f"lin.{k}": v for k, v in lin.state_dict().items()})
torch.save({"state": state, "losses": torch.stack(losses)}, sys.argv[1])
