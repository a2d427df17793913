# expect: torch-error-unexplained@6 info name=inputs
import torch

w = torch.randn(3, requires_grad=True)
loss = (w * 2).sum()
loss.backward(inputs=[])  # a message no catalogue entry explains (yet): quoted, as info
