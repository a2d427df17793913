# nanoGPT's shape: the model builds its own AdamW (configure_optimizers, where its parameters are
# self.*) after its own init writes, then the script compiles it (a compiled forward runs no module hooks).
import torch
import torch.nn as nn
from _dump import dump


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 16)
        self.head = nn.Linear(16, 1)
        for name, p in self.named_parameters():  # GPT's scaled init of the projections
            if name.endswith("weight"):
                torch.nn.init.normal_(p, mean=0.0, std=0.02)

    def forward(self, x):
        return self.head(torch.nn.functional.gelu(self.fc(x)))

    def configure_optimizers(self, lr):
        decay = [p for p in self.parameters() if p.dim() >= 2]
        no_decay = [p for p in self.parameters() if p.dim() < 2]
        groups = [{"params": decay, "weight_decay": 0.1}, {"params": no_decay}]
        return torch.optim.AdamW(groups, lr=lr)


torch.manual_seed(0)
model = Net()
optimizer = model.configure_optimizers(1e-3)
unoptimized_model = model
model = torch.compile(model, backend="aot_eager")
x, y = torch.randn(32, 8), torch.randn(32, 1)
for _ in range(3):
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
dump(**{n: p for n, p in unoptimized_model.named_parameters()})
