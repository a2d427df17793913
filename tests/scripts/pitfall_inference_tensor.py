# expect: inference-tensor@7 error name=feats
import torch

layer = torch.nn.Linear(4, 4)
head = torch.nn.Linear(4, 1)
x = torch.randn(2, 4)
with torch.inference_mode():
    feats = layer(x)
head(feats).sum().backward()
