# saved-tensor-modified: its line is the write (a.add_), its related line the op that saved a
import torch

w = torch.tensor([1.0], requires_grad=True)
a = w + 2
y = a * a  # graphscope: ignore[saved-tensor-modified, grad-acumulation]
a.add_(1)
try:
    y.backward()
except RuntimeError as err:
    print("RuntimeError:", str(err)[:40])
