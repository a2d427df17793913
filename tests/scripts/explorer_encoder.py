# A 6-layer encoder with a head whose module name is markup, trained with a hand-written reset
# that misses one parameter: the explorer's browser tests read its page (one grad-accumulation
# finding inside the fold of layers, and names that must show as text and never run).
import torch
from torch import nn

torch.manual_seed(0)


class Model(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        layer = nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=6, enable_nested_tensor=False)
        self.heads = nn.ModuleDict(
            {"<script>pwned=1</script>": nn.Linear(16, 4), "<img src=x onerror=pwned=2>": nn.ReLU()}
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.heads["<script>pwned=1</script>"](self.encoder(x))
        return self.heads["<img src=x onerror=pwned=2>"](h)


model = Model()
opt = torch.optim.SGD(model.parameters(), lr=0.01)
x = torch.randn(2, 5, 16)
missed = model.encoder.layers[3].linear1.weight
for _step in range(2):
    for p in model.parameters():
        if p is not missed:  # the bug: this one's .grad is never reset
            p.grad = None
    loss = model(x).pow(2).mean()
    loss.backward()
    opt.step()
