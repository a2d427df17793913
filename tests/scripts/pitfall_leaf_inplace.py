# expect: leaf-inplace@6 error name=w
import torch

w = torch.tensor([1.0, 2.0], requires_grad=True)
loss = (w * 3).sum()
w.add_(1)  # raises: a leaf Variable that requires grad is being used in an in-place operation
loss.backward()
