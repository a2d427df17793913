# expect: torch-error-unexplained@5 info name=retain_grad
import torch

x = torch.randn(3)
x.retain_grad()  # a message no catalogue entry explains (yet): quoted, as info
