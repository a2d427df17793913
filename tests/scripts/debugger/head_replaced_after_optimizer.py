# Fine-tuning: the classification head is replaced for a new number of classes, but only after
# the optimizer was built from the old parameters, so the new head is never updated.
import torch
import torch.nn as nn
from _dump import dump, grads

# (_dump: the test suite's byte-for-byte comparison of gradients; idle by default)


class Classifier(nn.Module):
    def __init__(self, n_classes):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(16, 32), nn.ReLU())
        self.head = nn.Linear(32, n_classes)

    def forward(self, x):
        return self.head(self.backbone(x))


torch.manual_seed(0)
model = Classifier(10)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
model.head = nn.Linear(32, 3)  # the new task has 3 classes

x, labels = torch.randn(24, 16), torch.randint(0, 3, (24,))
for _ in range(3):
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(model(x), labels)
    loss.backward()
    optimizer.step()
dump(**grads(model, "model"))
