import torch


def step(w):
    y = w * 2
    y.backward()  # y has two elements: torch raises


w = torch.tensor([1.0, 2.0], requires_grad=True)
step(w)
