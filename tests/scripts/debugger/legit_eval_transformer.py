# A frozen transformer encoder used as a feature extractor in eval mode under no_grad, and a
# small head trained on its features: no backward is meant to reach the encoder.
import torch
import torch.nn as nn
from _dump import dump, grads

# (_dump: the test suite's byte-for-byte comparison of gradients; idle by default)
torch.manual_seed(0)
layer = nn.TransformerEncoderLayer(d_model=16, nhead=2, dim_feedforward=32, batch_first=True)
encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False).eval()
head = nn.Linear(16, 2)
optimizer = torch.optim.Adam(head.parameters(), lr=1e-3)
tokens, labels = torch.randn(4, 5, 16), torch.randint(0, 2, (4,))

for _ in range(3):
    with torch.no_grad():
        features = encoder(tokens).mean(1)
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(head(features), labels)
    loss.backward()
    optimizer.step()
dump(features=features, **grads(head, "head"))
