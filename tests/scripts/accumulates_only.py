import torch

w = torch.tensor([1.0], requires_grad=True)
for _ in range(2):
    (w * 3).sum().backward()  # no reset and no optimizer step: accumulation, worth knowing
print(w.grad)
