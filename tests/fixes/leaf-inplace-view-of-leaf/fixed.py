import torch

torch.manual_seed(0)
emb = torch.randn(10, 4, requires_grad=True)
with torch.no_grad():
    emb[0] = 0.0  # the padding row
tokens = torch.tensor([[0, 3, 5], [2, 0, 7]])
loss = emb[tokens].sum(1).pow(2).mean()
loss.backward()
print(emb.grad[0])
