# expect: no-grad-param@19 warning name=aux_head.weight
import torch


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.body = torch.nn.Linear(4, 4)
        self.head = torch.nn.Linear(4, 1)
        self.aux_head = torch.nn.Linear(4, 1)  # never used in forward

    def forward(self, x):
        return self.head(torch.relu(self.body(x)))


net = Net()
out = net(torch.randn(5, 4))
loss = out.pow(2).mean()
loss.backward()
print("aux_head.weight.grad:", net.aux_head.weight.grad)
