# two findings: grad-accumulation (suppressed by the comment on its line) and nonleaf-grad-access
import torch

w = torch.tensor([1.0, 2.0], requires_grad=True)
for _ in range(2):
    loss = (w * 3).sum()
    loss.backward()  # graphscope: ignore[grad-accumulation]
h = w * 2
(h * h).sum().backward()
print("h.grad:", h.grad)
