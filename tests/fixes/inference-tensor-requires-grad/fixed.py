import torch

torch.manual_seed(0)
with torch.no_grad():
    prototypes = torch.randn(5, 8) * 0.1
prototypes.requires_grad_()
x = torch.randn(32, 8)
opt = torch.optim.SGD([prototypes], lr=0.5)
for _ in range(10):
    loss = torch.cdist(x, prototypes).min(dim=1).values.mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
print(f"{loss.item():.4f}")
