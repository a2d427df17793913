# expect: no-grad-fn@5 error name=loss
import torch

w = torch.tensor([1.0, 2.0], requires_grad=True)
with torch.no_grad():
    loss = (w * 3).sum()  # computed without a graph
print(loss.requires_grad)
loss.backward()
