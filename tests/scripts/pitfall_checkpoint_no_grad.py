# expect: checkpoint-no-grad@9 warning name=encoder[0].weight
import torch
import torch.nn as nn
from torch.utils.checkpoint import checkpoint

torch.manual_seed(0)
encoder, head = nn.Sequential(nn.Linear(8, 8), nn.ReLU()), nn.Linear(8, 1)
x, y = torch.randn(16, 8), torch.randn(16, 1)
h = checkpoint(encoder, x, use_reentrant=True)  # x does not require grad: encoder is cut off
loss = nn.functional.mse_loss(head(h), y)
loss.backward()
