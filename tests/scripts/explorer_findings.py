# A small CNN trained without optimizer.zero_grad(): one grad-accumulation finding about all of
# its ten parameters. The explorer's tests read its page: the finding is listed once, with its
# fix, and clicking it outlines every parameter it names, and nothing else.
import torch
from torch import nn

torch.manual_seed(0)


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 4, 3)
        self.bn2 = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.bn1(self.conv1(x)))
        h = torch.relu(self.bn2(self.conv2(h)))
        return self.fc(h.mean((2, 3)))


model = Net()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x, y = torch.randn(8, 1, 7, 7), torch.randint(0, 2, (8,))
for _ in range(3):
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
